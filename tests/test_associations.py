"""Associations against the official generator: jwst 3.0.0 ``asn_generate`` output for the
2019 standard pools (../shared/extdata/associations/jwst3_expected, options per pool from its
README), the real pools in pools_current/, the CLI, and the ASN file format.

The yardstick is the official output itself; a product matches when (asn_type, product name,
set of (expname, exptype)) are equal.  Required: every image2/image3/tso-image2 product and
>= 90 % of all products, per pool and overall.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from conftest import extdata
from streamcal.associations import (AsnError, associations_from_pool, read_asn, read_pool,
                                    resolve_member, validate, write_asn)
from streamcal.associations.asn import loads
from streamcal.cli import main

# asn_generate options of jwst3_expected/README.md: default = both rule sets, no merge
# (jwst 3.0's default; --no-merge is a deprecated no-op there).
POOL_RULES = {"pool_002_image_miri": "level3", "pool_018_all_exptypes": "level2b"}
ALWAYS = {"image2", "image3", "tso-image2"}


def _key(asn_type: str, product: dict):
    members = frozenset((m["expname"], m["exptype"]) for m in product["members"])
    return asn_type, product["name"], members


def _products(asns) -> list:
    return [_key(a["asn_type"], p) for a in asns for p in a["products"]]


def _ours(pool: str):
    path = extdata("associations", "standards_2019", pool, f"{pool}_std.csv")
    return associations_from_pool(path, rules=POOL_RULES.get(pool))


def _expected(pool: str) -> dict:
    folder = extdata("associations", "jwst3_expected", pool)
    return {f.name: json.loads(f.read_text()) for f in sorted(folder.glob("*_asn.json"))}


def test_reproduces_jwst3_generator_on_every_standard_pool():
    root = extdata("associations", "jwst3_expected")
    pools = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert len(pools) == 9          # the README: pool_024 gives nothing under jwst 3.0.0
    total = matched = 0
    for pool in pools:
        ours = _products(data for _, data in _ours(pool))
        want = _products(_expected(pool).values())
        hits = Counter(ours) & Counter(want)
        n_hit = sum(hits.values())
        for miss in Counter(want) - hits:
            print(f"{pool}: MISSING {miss[0]} {miss[1]} ({len(miss[2])} members)")
        for extra in Counter(ours) - hits:
            print(f"{pool}: EXTRA {extra[0]} {extra[1]} ({len(extra[2])} members)")
        print(f"{pool}: {n_hit}/{len(want)} products match ({100 * n_hit / len(want):.0f} %)")
        assert n_hit >= 0.9 * len(want), pool
        missing_always = [m for m in Counter(want) - hits if m[0] in ALWAYS]
        assert not missing_always, (pool, missing_always)
        total, matched = total + len(want), matched + n_hit
    print(f"overall: {matched}/{total} = {100 * matched / total:.1f} %")
    assert matched >= 0.9 * total
    assert total == 121             # 1+5+27+43+19+9+8+5+4 products in the oracle


def test_pool_024_gives_nothing_like_jwst3():
    # jwst3_expected/README.md: "pool_024 gives no association under jwst 3.0.0"
    assert _ours("pool_024_nirspec_fss_nods") == []


def test_file_names_and_sequence_numbers_match_the_generator():
    # e.g. jw00009-o001_image2_00001_asn.json .. _00008 hold the same products as jwst's
    for pool in ("pool_020_00009_image_miri", "pool_007_spec_miri", "pool_019_niriss_wfss"):
        ours = dict(_ours(pool))
        want = _expected(pool)
        assert set(ours) == set(want), pool
        for name, data in want.items():
            assert [p["name"] for p in ours[name]["products"]] == [p["name"] for p in data["products"]]
            assert ours[name]["asn_id"] == data["asn_id"]


def test_current_miri_wfss_pool_gives_4_image2_4_spec2_1_image3_1_spec3():
    path = extdata("associations", "pools_current", "jw09505_20251216t202003_pool.csv")
    made = [data for _, data in associations_from_pool(path)]
    assert Counter(d["asn_type"] for d in made) == {"image2": 4, "spec2": 4, "image3": 1, "spec3": 1}
    image3 = next(d for d in made if d["asn_type"] == "image3")["products"][0]["name"]
    for spec2 in (d for d in made if d["asn_type"] == "spec2"):
        by_type = {m["exptype"]: m["expname"] for m in spec2["products"][0]["members"]}
        # the grism exposure waits for the direct-image mosaic's catalog and segmentation map
        assert by_type["sourcecat"] == f"{image3}_cat.ecsv"
        assert by_type["segmap"] == f"{image3}_segm.fits"
        assert by_type["direct_image"] == f"{image3}_i2d.fits"


def test_wfsc_jitter_exposures_stay_out_of_level3_and_science_associations():
    # What marks them: DMS_NOTE = WFSC_LOS_JITTER (VISITYPE PRIME_WFSC_SENSING_ONLY).
    path = extdata("associations", "pools_current", "pool_033_wfs_jitter.csv")
    rows = read_pool(path)
    jitter = {r["filename"].replace("_uncal.fits", "") for r in rows
              if r["dms_note"] == "wfsc_los_jitter"}
    assert len(jitter) == 28
    made = [data for _, data in associations_from_pool(path)]
    assert made, "the pool's non-jitter exposures still form associations"
    for data in made:
        for m in (m for p in data["products"] for m in p["members"]):
            root = m["expname"].rsplit("_", 1)[0]
            if root in jitter:
                # jwst 3.0 keeps target acquisitions in a level-2 image2 of their own
                # (Asn_Lv2ImageNonScience has no jitter filter); never in a level-3 product.
                assert data["asn_type"] == "image2" and data["asn_rule"].endswith("NonScience")


@pytest.mark.parametrize("name", ["asn_level2.json", "asn_mosaic.json", "test_image_asn.json"])
def test_real_asn_files_read_and_round_trip(tmp_path, name):
    data = read_asn(extdata("associations", "pools_current", name))
    out = write_asn(data, tmp_path / name)
    assert read_asn(out) == data


def test_cli_associations_writes_the_generator_files(tmp_path, capsys):
    pool = extdata("associations", "standards_2019", "pool_002_image_miri",
                   "pool_002_image_miri_std.csv")
    assert main(["associations", str(pool), "--out", str(tmp_path), "--rules", "level3"]) == 0
    written = sorted(p.name for p in tmp_path.glob("*.json"))
    assert written == ["jw99009-o001_image3_00001_asn.json"]
    want = _expected("pool_002_image_miri")["jw99009-o001_image3_00001_asn.json"]
    got = read_asn(tmp_path / written[0])
    assert _products([got]) == _products([want])
    line = capsys.readouterr().out.strip()
    assert line.startswith("jw99009-o001_image3_00001_asn.json") and "image3" in line


def test_cli_no_merge_and_merge(tmp_path):
    pool = extdata("associations", "standards_2019", "pool_020_00009_image_miri",
                   "pool_020_00009_image_miri_std.csv")
    assert main(["associations", str(pool), "--out", str(tmp_path / "a"), "--no-merge"]) == 0
    assert len(list((tmp_path / "a").glob("*image2*"))) == 8
    assert main(["associations", str(pool), "--out", str(tmp_path / "b"), "--merge"]) == 0
    merged = list((tmp_path / "b").glob("*image2*"))
    assert len(merged) == 1                           # one ASN, 8 products
    assert len(read_asn(merged[0])["products"]) == 8


def test_cli_bad_pool_exits_2(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("not|a\n|pool|with|ragged|rows\n")
    assert main(["associations", str(bad), "--out", str(tmp_path / "o")]) == 2


# ---- ASN format ------------------------------------------------------------------------------

def _asn(**member):
    return {"asn_type": "image3", "products": [{"name": "p", "members": [member]}]}


def test_validate_requires_products_members_expname_exptype():
    validate(_asn(expname="a_cal.fits", exptype="science"))
    for bad in ({}, {"products": []}, {"products": [{"name": "p"}]},
                _asn(exptype="science"), _asn(expname="a_cal.fits"), _asn(expname=3, exptype="x")):
        with pytest.raises(AsnError):
            validate(bad)


def test_trailing_commas_and_nan_are_rejected():
    with pytest.raises(AsnError, match="not valid JSON"):
        loads('{"products": [{"members": [{"expname": "a", "exptype": "science"},]}]}')
    with pytest.raises(AsnError):
        loads('{"products": [{"members": [{"expname": "a", "exptype": "science", "x": NaN}]}]}')


def test_resolve_member_stays_inside_allowed_roots(tmp_path):
    landing, products, outside = tmp_path / "landing", tmp_path / "products", tmp_path / "secret"
    for d in (landing, products, outside):
        d.mkdir()
    asn = landing / "x_asn.json"
    assert resolve_member(asn, "a_cal.fits", [landing]) == (landing / "a_cal.fits").resolve()
    assert resolve_member(asn, "../products/b_cal.fits", [landing, products]) == \
        (products / "b_cal.fits").resolve()
    with pytest.raises(AsnError, match="absolute"):
        resolve_member(asn, str(landing / "a_cal.fits"), [landing])
    with pytest.raises(AsnError, match="outside"):
        resolve_member(asn, "../secret/c_cal.fits", [landing, products])
    (landing / "link_cal.fits").symlink_to(outside / "d_cal.fits")
    with pytest.raises(AsnError, match="outside"):    # symlinks are followed before the check
        resolve_member(asn, "link_cal.fits", [landing])


def test_same_product_name_with_different_members_is_reported(caplog):
    # jw00632_dups.csv (real PID 632 WFSC pool): two wfs-image3 products share a name but hold
    # different exposure pairs; jwst logs "same product name but significant differences".
    path = extdata("associations", "pools_current", "jw00632_dups.csv")
    with caplog.at_level("WARNING"):
        made = [d for _, d in associations_from_pool(path, rules="level3")]
    names = [d["products"][0]["name"] for d in made if d["asn_type"] == "wfs-image3"]
    assert len(names) == 2 and len(set(names)) == 1
    assert "significant differences" in caplog.text
