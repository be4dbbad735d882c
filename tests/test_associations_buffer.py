"""The stream's association buffer with a fake clock: complete firing once the last dither
member lands (any order), partial firing after the late-member timeout and a complete re-fire
when the missing member arrives, ASN files as the source of expected members, persistence."""

from __future__ import annotations

import json
import random

from streamcal.associations import AssociationBuffer, pool_row
from streamcal.associations.buffer import exposure_root
from streamcal.testing import FakeClock

PRODUCT = "jw01234-o001_t001_nircam_clear-f200w-sub400p"


def header(k: int, detector: str = "NRCA1", filt: str = "F200W", numdthpt: int = 4, **extra) -> dict:
    """The keywords streamcal.sim.config.primary_header writes that grouping looks at."""
    h = {"PROGRAM": "01234", "OBSERVTN": "001", "VISIT": "001", "EXPOSURE": str(k),
         "EXP_TYPE": "NRC_IMAGE", "INSTRUME": "NIRCAM", "DETECTOR": detector, "FILTER": filt,
         "PUPIL": "CLEAR", "SUBARRAY": "SUB400P", "TARGPROP": "FIELD", "TARGNAME": "FIELD",
         "PATTTYPE": "4-POINT-BOX", "NUMDTHPT": numdthpt, "PATT_NUM": k, "TSOVISIT": False,
         "EXPCOUNT": k}
    h.update(extra)
    return h


def cal(k: int, detector: str = "NRCA1", act: str = "02101") -> str:
    return f"/products/jw01234001001_{act}_{k:05d}_{detector.lower()}_cal.fits"


def test_pool_row_from_header_has_mkpool_defaults():
    row = pool_row(header(2), "jw01234001001_02101_00002_nrca1_cal.fits")
    assert row["asn_candidate"] == "[('o001', 'observation')]"     # from OBSERVTN
    assert (row["pntgtype"], row["targetid"], row["is_imprt"]) == ("science", "1", "null")
    assert (row["exp_type"], row["filter"], row["tsovisit"], row["numdthpt"]) == \
        ("nrc_image", "f200w", "f", "4")                             # lower-case strings


def test_four_dithers_in_random_order_fire_once_complete():
    clock = FakeClock(0.0)
    buf = AssociationBuffer(late_member_timeout=300, clock=clock)
    order = [1, 2, 3, 4]
    random.Random(4).shuffle(order)
    for k in order[:3]:
        assert buf.add(cal(k), header(k)) == []
        clock.advance(5)
    fired = buf.add(cal(order[3]), header(order[3]))
    assert len(fired) == 1
    f = fired[0]
    assert (f.product, f.partial) == (PRODUCT, False)
    assert sorted(f.members) == [cal(k) for k in (1, 2, 3, 4)]
    assert f.asn["asn_type"] == "image3" and f.asn["products"][0]["name"] == PRODUCT
    assert len(f.asn["products"][0]["members"]) == 4
    # fires complete only once: a repeated delivery or a later expiry changes nothing
    assert buf.add(cal(2), header(2)) == []
    assert buf.expire(clock.advance(10_000)) == []


def test_withheld_member_gives_partial_then_complete():
    clock = FakeClock(100.0)
    buf = AssociationBuffer(late_member_timeout=60, clock=clock)
    for k in (1, 2, 4):
        assert buf.add(cal(k), header(k)) == []
    assert buf.expire(clock.advance(59)) == []              # 59 s < timeout since first member
    fired = buf.expire(clock.advance(2))
    assert [(f.product, f.partial, len(f.members)) for f in fired] == [(PRODUCT, True, 3)]
    assert buf.expire(clock.advance(600)) == []             # partial fires once per arrival
    fired = buf.add(cal(3), header(3))                      # the late member lands
    assert [(f.partial, len(f.members)) for f in fired] == [(False, 4)]
    assert buf.add(cal(3), header(3)) == []


def test_exposure_beyond_the_announced_count_remakes_the_product():
    """The headers announce 4 dither points; a 5th exposure of the same candidate (a repeat)
    arrives after the complete firing: the product is remade with all 5, not left without it."""
    buf = AssociationBuffer(clock=FakeClock(0.0))
    for k in (1, 2, 3):
        assert buf.add(cal(k), header(k)) == []
    assert [len(f.members) for f in buf.add(cal(4), header(4))] == [4]
    fired = buf.add(cal(5), header(5, PATT_NUM=1))
    assert [(f.product, f.partial, len(f.members)) for f in fired] == [(PRODUCT, False, 5)]
    assert sorted(fired[0].members) == [cal(k) for k in range(1, 6)]
    assert buf.add(cal(5), header(5, PATT_NUM=1)) == []        # delivered again: nothing new


def test_new_content_of_a_member_remakes_the_product():
    """A member re-delivered with new content after the product was made: fired again with the
    same members (the stream remakes the mosaic); the same content again changes nothing."""
    buf = AssociationBuffer(clock=FakeClock(0.0))
    for k in (1, 2, 3):
        buf.add(cal(k), header(k))
    assert len(buf.add(cal(4), header(4))) == 1
    fired = buf.add(cal(2), header(2), replaced=True)
    assert [(f.partial, sorted(f.members)) for f in fired] == [(False, [cal(k) for k in (1, 2, 3, 4)])]
    assert buf.add(cal(2), header(2)) == []


def test_two_detectors_double_the_expected_members():
    buf = AssociationBuffer(clock=FakeClock(0.0))
    got = []
    for k in (1, 2):
        for det in ("NRCA1", "NRCA2"):                      # image3 does not split detectors
            got += buf.add(cal(k, det), header(k, det, numdthpt=2))
    assert [(f.partial, len(f.members)) for f in got] == [(False, 4)]


def test_filters_are_separate_candidates():
    buf = AssociationBuffer(clock=FakeClock(0.0))
    fired = []
    for k in (1, 2):
        fired += buf.add(cal(k, act="02101"), header(k, numdthpt=2))
        fired += buf.add(cal(k, act="04101"), header(k, filt="F444W", numdthpt=2))
    assert sorted(f.product for f in fired) == [PRODUCT, PRODUCT.replace("f200w", "f444w")]


def test_asn_file_sets_the_expected_members():
    clock = FakeClock(0.0)
    buf = AssociationBuffer(late_member_timeout=60, clock=clock)
    asn = {"asn_type": "image3", "asn_id": "o001", "program": "01234",
           "products": [{"name": PRODUCT, "members": [
               {"expname": "jw01234001001_02101_00001_nrca1_cal.fits", "exptype": "science"},
               {"expname": "jw01234001001_02101_00003_nrca1_cal.fits", "exptype": "science"}]}]}
    assert buf.add_asn(asn) == []
    assert buf.add(cal(1), header(1)) == []
    fired = buf.add(cal(3), header(3))        # headers say 4 dithers; the ASN names only two
    assert [(f.partial, sorted(f.members)) for f in fired] == [(False, [cal(1), cal(3)])]
    assert fired[0].asn["products"][0]["members"] == asn["products"][0]["members"]


def test_asn_arriving_after_its_members_fires_at_once():
    buf = AssociationBuffer(clock=FakeClock(0.0))
    assert buf.add(cal(1), header(1, numdthpt=4)) == []
    asn = {"products": [{"name": "custom", "members": [
        {"expname": "jw01234001001_02101_00001_nrca1_cal.fits", "exptype": "science"}]}]}
    fired = buf.add_asn(asn)
    assert [(f.product, f.partial, f.members) for f in fired] == [("custom", False, (cal(1),))]


def test_state_round_trips_through_plain_json():
    clock = FakeClock(0.0)
    buf = AssociationBuffer(late_member_timeout=60, clock=clock)
    for k in (1, 2):
        buf.add(cal(k), header(k))
    state = json.loads(json.dumps(buf.to_dict()))           # what the stream persists
    again = AssociationBuffer.from_dict(state, clock=clock)
    assert again.add(cal(3), header(3)) == []
    fired = again.add(cal(4), header(4))
    assert [(f.partial, len(f.members)) for f in fired] == [(False, 4)]


def test_exposure_root_strips_directory_and_suffix():
    assert exposure_root("/a/b/jw01234001001_02101_00001_nrca1_cal.fits") == \
        "jw01234001001_02101_00001_nrca1"
    assert exposure_root("jw01234001001_02101_00001_nrca1_rateints.fits") == \
        "jw01234001001_02101_00001_nrca1"


def test_simulator_headers_group_into_the_demo_mosaic():
    # The demo's NIRCam dither, headers exactly as the simulator writes them: one image3
    # candidate that fires complete when the last dither position lands.
    from streamcal.sim.config import primary_header, resolve
    from streamcal.sim.program import program_configs

    dithers = [c for c in program_configs() if c.exp_type == "NRC_IMAGE"]
    assert len(dithers) >= 2
    buf = AssociationBuffer(clock=FakeClock(0.0))
    fired = []
    for cfg in dithers:
        hdr = primary_header(resolve(cfg))
        assert fired == []                      # nothing before the last member
        fired += buf.add("/p/" + hdr["FILENAME"].replace("_uncal", "_cal"), hdr)
    assert [(f.partial, len(f.members)) for f in fired] == [(False, len(dithers))]
    assert fired[0].product.startswith(f"jw{dithers[0].program:05d}-o001_t001_nircam_")
