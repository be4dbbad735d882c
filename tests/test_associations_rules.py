"""The constraint engine and rule helpers on small hand-made pool rows (expectations worked
out from the jwst 3.0 rule definitions; the full oracle comparison is test_associations.py)."""

from __future__ import annotations

from streamcal.associations import read_pool
from streamcal.associations.members import level2_name, remove_suffix
from streamcal.associations.constraints import Attr, Group, Over, Simple, meets
from streamcal.associations.exptypes import base_exposure_type, nrsfss_valid_detector
from streamcal.associations.generator import Options, generate_pool, membership_diff


def row(i, **kw):
    base = {"filename": f"jw_{i:05d}_uncal.fits", "program": "99009", "obs_num": "1",
            "exp_type": "nrc_image", "instrume": "nircam", "detector": "nrca1",
            "filter": "f200w", "pupil": "clear", "subarray": "full", "targetid": "1",
            "pntgtype": "science", "tsovisit": "f", "bkgdtarg": "f", "is_imprt": "null",
            "asn_candidate": "[('o001', 'observation')]", "visitype": "prime_targeted_fixed"}
    base.update(kw)
    return base


def test_meets_is_a_full_case_insensitive_match():
    assert meets("NRC_IMAGE", "nrc_image|mir_image")
    assert not meets("nrc_imagex", "nrc_image")
    assert meets("b", ["a", "b"])


def test_attr_force_unique_pins_the_first_value_and_restore_undoes():
    c = Attr("filter", ["filter"])
    assert c.check({"filter": "f200w"})[0]
    assert c.value == "f200w"                     # later members must agree
    c.preserve()
    assert not c.check({"filter": "f444w"})[0]
    c.restore()
    assert c.check({"filter": "F200W"})[0]        # case-insensitive


def test_attr_empty_values_count_as_undefined():
    required, optional = Attr("x", ["x"]), Attr("x", ["x"], required=False)
    assert not required.check({"x": "null"})[0]
    assert optional.check({"x": "null"})[0] and optional.value is None
    assert not Attr(sources=["is_imprt"], force_undefined=True).check({"is_imprt": "t"})[0]


def test_list_valued_column_is_split_into_copies():
    c = Attr("asn_candidate", ["asn_candidate"], evaluate=True)
    ok, requeue = c.check({"asn_candidate": "[('o001', 'observation'), ('c1000', 'background')]"})
    assert not ok and len(requeue) == 1
    assert [i["asn_candidate"] for i in requeue[0].items] == \
        ["('o001', 'observation')", "('c1000', 'background')"]


def test_group_reductions():
    yes, no = Simple(value=1, sources=lambda _i: 1), Simple(value=1, sources=lambda _i: 2)
    assert Group([yes, yes]).check({})[0] and not Group([yes, no]).check({})[0]
    assert Group([no, yes], "any").check({})[0]
    assert Group([no], "notany").check({})[0] and Group([yes, no], "notall").check({})[0]
    assert not Group([]).check({})[0]


def test_requeue_lists_carry_their_category():
    fail = Simple("f", "x", test=lambda a, b: False, reprocess_on_fail=True, over=Over.NONSCIENCE)
    ok, requeue = fail.check({"a": 1})
    assert not ok and requeue[0].over is Over.NONSCIENCE and requeue[0].items == [{"a": 1}]


def test_exposure_type_decision():
    assert base_exposure_type(row(1)) == "science"
    assert base_exposure_type(row(1, exp_type="nrc_tacq")) == "target_acquisition"
    assert base_exposure_type(row(1, pntgtype="target_acquisition")) == "target_acquisition"
    assert base_exposure_type(row(1, bkgdtarg="t")) == "background"
    assert base_exposure_type(row(1, is_psf="t", bkgdtarg="t")) == "psf"   # psf first


def test_names():
    assert level2_name("jw_00001_uncal.fits", "cal", ints=True) == "jw_00001_calints.fits"
    assert level2_name("jw_00001_rate.fits", "cal", ints=False) == "jw_00001_rate.fits"
    assert remove_suffix("jw01234001001_02101_00001_nrca1_cal") == "jw01234001001_02101_00001_nrca1"
    assert nrsfss_valid_detector({"fxd_slit": "s200a1", "grating": "g395h", "filter": "f290lp",
                                  "detector": "nrs2"})
    assert not nrsfss_valid_detector({"fxd_slit": "s200a1", "grating": "g395m",
                                      "filter": "f290lp", "detector": "nrs2"})


def test_membership_diff_pairs_members_in_order():
    p = lambda *names: {"members": [{"expname": n, "exptype": "science"} for n in names]}
    assert membership_diff(p("a_cal.fits", "b_cal.fits"), p("b_cal.fits", "a_cal.fits")) == "same"
    assert membership_diff(p("a_cal.fits"), p("a_cal.fits", "b_cal.fits")) == "subset"
    assert membership_diff(p("a_cal.fits"), p("a_rate.fits")) == "different"
    assert membership_diff(p("a_cal.fits"), p("a_rate.fits"), strict=False) == "same"


def test_dither_rows_make_one_image3_and_one_image2_each():
    rows = [row(i) for i in range(1, 5)] + [row(5, filter="f444w")]
    asns = generate_pool(rows, Options(pool_name="t.csv"))
    kinds = sorted((a.data["asn_type"], a.products[0]["name"], len(a.products[0]["members"]))
                   for a in asns)
    assert kinds == [("image2", f"jw_{i:05d}", 1) for i in range(1, 6)] + [
        ("image3", "jw99009-o001_t001_nircam_clear-f200w", 4),
        ("image3", "jw99009-o001_t001_nircam_clear-f444w", 1)]
    image3 = next(a for a in asns if a.products[0]["name"].endswith("f200w"))
    assert {m["expname"] for m in image3.products[0]["members"]} == \
        {f"jw_{i:05d}_cal.fits" for i in range(1, 5)}


def test_wfsc_visits_and_tso_stay_out_of_image3():
    rows = [row(1), row(2, visitype="prime_wfsc_sensing_only"), row(3, tsovisit="t")]
    asns = generate_pool(rows, Options(rules="level3", pool_name="t.csv"))
    assert [[m["expname"] for m in a.products[0]["members"]] for a in asns
            if a.data["asn_type"] == "image3"] == [["jw_00001_cal.fits"]]


def test_read_pool_lower_cases_names_and_values(tmp_path):
    pool = tmp_path / "p.csv"
    pool.write_text("# comment\nFILENAME|EXP_TYPE|PUPIL\nJW_1_UNCAL.FITS|NRC_IMAGE|\n")
    assert read_pool(pool) == [{"filename": "jw_1_uncal.fits", "exp_type": "nrc_image",
                                "pupil": "null"}]
