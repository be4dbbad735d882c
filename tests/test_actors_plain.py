"""The Ray-free pieces of streamcal.actors: router step, stage outcome classification,
association buffer, partial-product cleanup."""

import pytest

pytest.importorskip("ray")

from streamcal import router  # noqa: E402
from streamcal.actors.association import AssociationBuffer  # noqa: E402
from streamcal.actors.routing import next_stage, route_dict, route_file, route_from_dict  # noqa: E402
from streamcal.actors.worker import BAD, NOT_IMPLEMENTED, OK, TRANSIENT, clean_partials, run_stage  # noqa: E402
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
    assert ok["kind"] == OK and [s for _, s in ok["products"]] == ["rate"]
    assert (tmp_path / raw.name.replace("_uncal", "_rate")).is_file()
    ni = run_stage(router.IMAGE2, str(raw), str(tmp_path), refs)
    assert ni["kind"] == NOT_IMPLEMENTED and "not implemented" in ni["reason"]
    junk = tmp_path / "junk_uncal.fits"
    junk.write_bytes(b"\0" * 100)
    assert run_stage(router.D1, str(junk), str(tmp_path), refs)["kind"] == BAD
    gone = run_stage(router.D1, str(tmp_path / "missing_uncal.fits"), str(tmp_path / "nodir"), refs)
    assert gone["kind"] in (BAD, TRANSIENT)


def test_association_buffer():
    buf = AssociationBuffer()
    assert buf.add(1, router.route({"EXP_TYPE": "NRC_DARK"})) == "done"
    assert buf.add(2, router.route({"EXP_TYPE": "NRC_IMAGE"})) == "waiting_association"
    assert buf.add(3, router.route({"EXP_TYPE": "NIS_AMI"})) == "waiting_association"
    assert len(buf) == 2 and buf.groups() == {router.IMAGE3: [2], router.AMI3: [3]}


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
