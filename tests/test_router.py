"""The routing table against the seed pipeline table itself, parsed independently."""

import re
from pathlib import Path

import pytest

from conftest import extdata
from streamcal import router
from streamcal.fitsio import read_header

SEED = Path(__file__).resolve().parents[2] / "shared" / "seeds" / "jwst_pipeline_modules.txt"


def seed_rows() -> dict[str, tuple]:
    """EXP_TYPE -> (stage1, stage2, stage3) as the seed text lists them."""
    if not SEED.exists():
        pytest.skip(f"seed table not available: {SEED}")
    rows, pending = {}, []
    for line in SEED.read_text().splitlines():
        line = line.strip()
        if re.fullmatch(r"(FGS|MIR|NRC|NIS|NRS)_[A-Z0-9_-]+", line):
            pending.append(line)
        elif pending and line.startswith("calwebb_"):
            cells = [c.strip() for c in line.split("|") if c.strip()]
            stages = tuple(None if c == "N/A" else router.ALIASES.get(c, c) for c in cells[:3])
            rows.update({e: stages for e in pending})
            pending = []
    return rows


def test_every_seed_row_is_routed_as_the_seed_says():
    rows = seed_rows()
    assert len(rows) == 51  # the seed lists 51 EXP_TYPEs; all were parsed
    for exp_type, stages in rows.items():
        r = router.route({"EXP_TYPE": exp_type})
        assert (r.stage1, r.stage2, r.stage3) == stages, exp_type


def test_tso_rules():
    assert router.route({"EXP_TYPE": "NRC_TSIMAGE"}).tso
    r = router.route({"EXP_TYPE": "MIR_IMAGE", "TSOVISIT": "T"})
    assert (r.stage1, r.stage2, r.stage3, r.tso) == ("calwebb_tso1", "calwebb_image2", "calwebb_tso3", True)
    assert router.route({"EXP_TYPE": "MIR_IMAGE", "TSOVISIT": False}).stage1 == "calwebb_detector1"
    # a guider mode stays a guider mode even in a TSO visit (the real FINEGUIDE header has TSOVISIT=T)
    assert router.route({"EXP_TYPE": "FGS_FINEGUIDE", "TSOVISIT": True}).stage1 == "calwebb_guider"


@pytest.mark.parametrize("header,match", [({}, "missing"), ({"EXP_TYPE": " "}, "missing"),
                                          ({"EXP_TYPE": "NRC_BOGUS"}, "NRC_BOGUS")])
def test_unknown_exp_type(header, match):
    with pytest.raises(KeyError, match=match):
        router.route(header)


@pytest.mark.parametrize("name,stage1", [("jw01075001001_03105_00009_nrca2_uncal.fits", "calwebb_detector1"),
                                         ("fgs_track_guider1.fits", "calwebb_guider"),
                                         ("fgs_fineguide_guider2.fits", "calwebb_guider"),
                                         ("fgs_id-image_guider1.fits", "calwebb_guider")])
def test_real_headers_route(name, stage1):
    header = read_header(extdata("fits_header_only", name))
    r = router.route(header)
    assert r.stage1 == stage1
    if name.startswith("jw01075"):  # NRC_CORON
        assert (r.stage2, r.stage3) == ("calwebb_image2", "calwebb_coron3")
