"""The Ray-free pieces of streamcal.actors: router step, stage outcome classification,
association buffer, partial-product cleanup."""

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("ray")

from streamcal import router  # noqa: E402
from streamcal.actors.association import AssociationStage, after_last_single_stage, is_asn_name  # noqa: E402
from streamcal.actors.routing import next_stage, route_dict, route_file, route_from_dict  # noqa: E402
from streamcal.actors.worker import (BAD, NOT_IMPLEMENTED, OK, TRANSIENT, clean_partials, run_stage,  # noqa: E402
                                     warm_up)
from streamcal.errors import BadInputError  # noqa: E402
from streamcal.sim import simulate_to_directory  # noqa: E402


@pytest.fixture(scope="module")
def raw(tmp_path_factory, refs):
    out = tmp_path_factory.mktemp("raw")
    return simulate_to_directory(out, detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P",
                                 ngroups=3, refs=refs)[0]


def test_route_file_reads_the_header(raw, tmp_path):
    route = route_file(raw)
    assert route.pipelines == (router.D1, router.IMAGE2, router.IMAGE3)
    assert route_from_dict(route_dict(route)) == route
    assert next_stage(route, router.D1) == router.IMAGE2 and next_stage(route, router.IMAGE2) is None
    junk = tmp_path / "junk_uncal.fits"
    junk.write_bytes(b"not a fits file at all" * 200)
    with pytest.raises(BadInputError) as exc:
        route_file(junk)
    assert exc.value.check == "fits"


def test_route_file_unknown_exp_type(raw, tmp_path):
    from astropy.io import fits

    bad = tmp_path / "odd_uncal.fits"
    with fits.open(raw) as hdul:
        hdul[0].header["EXP_TYPE"] = "NRC_BOGUS"
        hdul.writeto(bad)
    with pytest.raises(BadInputError, match="routing table") as exc:
        route_file(bad)
    assert exc.value.check == "exp_type"


def test_run_stage_classifies(raw, tmp_path, refs):
    ok = run_stage(router.D1, str(raw), str(tmp_path), refs)
    assert ok["kind"] == OK and [s for _, s, _ in ok["products"]] == ["rate"]
    rate = tmp_path / raw.name.replace("_uncal", "_rate")
    assert rate.is_file()
    assert ok["products"][0][2] == hashlib.sha256(rate.read_bytes()).hexdigest()   # checksummed by the worker
    ni = run_stage(router.SPEC2, str(raw), str(tmp_path), refs)
    assert ni["kind"] == NOT_IMPLEMENTED and "not implemented" in ni["reason"]
    junk = tmp_path / "junk_uncal.fits"
    junk.write_bytes(b"\0" * 100)
    assert run_stage(router.D1, str(junk), str(tmp_path), refs)["kind"] == BAD
    gone = run_stage(router.D1, str(tmp_path / "missing_uncal.fits"), str(tmp_path / "nodir"), refs)
    assert gone["kind"] in (BAD, TRANSIENT)


def test_state_after_the_last_single_exposure_stage():
    assert after_last_single_stage(router.route({"EXP_TYPE": "NRC_DARK"})) == "done"
    assert after_last_single_stage(router.route({"EXP_TYPE": "NRC_IMAGE"})) == "waiting_association"
    assert is_asn_name("/l/jw01234-o001_image3_00001_asn.json") and not is_asn_name("/l/x_cal.fits")


def _cal_headers(raw, out, n, **cards):
    """Header-only stand-ins of the `_cal` files of an n-point dither (what the buffer reads)."""
    from astropy.io import fits

    base = fits.getheader(raw)
    paths = []
    for k in range(1, n + 1):
        h = base.copy()
        name = f"jw01234001001_02101_{k:05d}_nrca1_cal.fits"
        h.update(EXPOSURE=k, PATT_NUM=k, NUMDTHPT=n, FILENAME=name, **cards)
        fits.PrimaryHDU(header=h).writeto(out / name)
        paths.append(str(out / name))
    return paths


def test_association_stage_fires_when_complete_and_resumes_from_its_file(raw, tmp_path):
    """4 dither members from the headers (NUMDTHPT = 4): nothing fires until the 4th; the ASN
    is written beside the products, names the `_cal` files, and stays pending until acked; a
    new AssociationStage on the same directory has the same state."""
    import json

    from streamcal.associations import read_asn

    cals = _cal_headers(raw, tmp_path, 4)
    stage = AssociationStage(tmp_path, late_member_timeout=600)
    assert [stage.add_product(10 + k, p) for k, p in enumerate(cals[:3])] == [[], [], []]
    again = AssociationStage(tmp_path, late_member_timeout=600)      # restart between members
    (firing,) = again.add_product(13, cals[3])
    assert firing["partial"] is False and firing["member_ids"] == [10, 11, 12, 13]
    asn = read_asn(firing["asn_path"])
    assert Path(firing["asn_path"]).parent == tmp_path and firing["asn_path"].endswith("_asn.json")
    assert [m["expname"] for m in asn["products"][0]["members"]] == [Path(p).name for p in cals]
    assert again.pending() == [firing]
    again.ack([firing["product"]])
    assert AssociationStage(tmp_path).pending() == []
    assert again.add_product(13, cals[3]) == []                      # complete: never fires twice
    assert json.loads((tmp_path / "associations" / "buffer.json").read_text())["file_ids"][cals[0]] == 10


def test_association_stage_remakes_for_new_content_of_a_member(raw, tmp_path):
    """A member's `_cal` made again from new content (a new ledger file id under the same path)
    after the product fired: fired again, naming the new file; the same file id again: nothing."""
    cals = _cal_headers(raw, tmp_path, 4)
    stage = AssociationStage(tmp_path, late_member_timeout=600)
    for k, p in enumerate(cals):
        fired = stage.add_product(10 + k, p)
    assert [f["member_ids"] for f in fired] == [[10, 11, 12, 13]]
    (again,) = stage.add_product(21, cals[1])
    assert not again["partial"] and sorted(again["member_ids"]) == [10, 12, 13, 21]
    stage.ack([again["product"]])
    assert stage.add_product(21, cals[1]) == []


def test_association_stage_partial_after_the_timeout_then_complete(raw, tmp_path):
    from streamcal.testing import FakeClock

    cals = _cal_headers(raw, tmp_path, 4)
    clock = FakeClock(1000.0)
    stage = AssociationStage(tmp_path, late_member_timeout=30, clock=clock)
    for k, p in enumerate(cals[:3]):
        assert stage.add_product(k + 1, p) == []
    assert stage.expire() == []
    clock.advance(31)
    (partial,) = stage.expire()
    assert partial["partial"] and partial["member_ids"] == [1, 2, 3]
    (complete,) = stage.add_product(4, cals[3])                     # the late member: remade
    assert not complete["partial"] and complete["member_ids"] == [1, 2, 3, 4]
    assert complete["product"] == partial["product"]


def test_warm_up_imports_the_pipeline_and_its_steps():
    """A new worker imports its pipeline's code before its first exposure; steps streamcal
    lacks (assign_mtwcs: moving targets only) are left out, pipelines without code load nothing."""
    import sys

    loaded = warm_up(router.IMAGE3)
    assert loaded == ["tweakreg", "skymatch", "outlier_detection", "resample", "source_catalog"]
    assert "streamcal.pipelines.image3" in sys.modules and "photutils" in sys.modules
    assert warm_up(router.SPEC2) == [] and "jump" in warm_up(router.D1)


def test_clean_partials(tmp_path):
    (tmp_path / ".jw1_nrca1_rate.fits.abc.part").write_text("x")
    (tmp_path / ".jw2_nrca1_rate.fits.abc.part").write_text("x")
    removed = clean_partials(tmp_path, "/landing/jw1_nrca1_uncal.fits")
    assert [p.name for p in removed] == [".jw1_nrca1_rate.fits.abc.part"]
    assert (tmp_path / ".jw2_nrca1_rate.fits.abc.part").exists()


def test_worker_options_from_the_pool_config():
    from streamcal.actors.pool import worker_options
    from streamcal.config import PoolConfig

    assert worker_options(PoolConfig(num_cpus=0.5, memory_mb=0)) == {"num_cpus": 0.5}
    opts = worker_options(PoolConfig(memory_mb=2, resources={"stage_node": 1}, label_selector={"role": "stage"}))
    assert opts == {"num_cpus": 0.25, "memory": 2 * 1024 ** 2, "resources": {"stage_node": 1},
                    "label_selector": {"role": "stage"}}
