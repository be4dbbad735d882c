"""The Ray-free pieces of streamcal.actors: router step, stage outcome classification,
partial-product cleanup, warm-up."""

import hashlib
from pathlib import Path

import pytest

pytest.importorskip("ray")

from streamcal import router  # noqa: E402
from streamcal.actors.worker import clean_partials, run_job, warm_up  # noqa: E402
from streamcal.errors import BadInputError  # noqa: E402
from streamcal.flow import Job, OutcomeKind, is_asn_name  # noqa: E402
from streamcal.flow.readiness import after_single_stages, next_pipeline  # noqa: E402
from streamcal.router import Route, route_file  # noqa: E402
from streamcal.sim import simulate_to_directory  # noqa: E402


@pytest.fixture(scope="module")
def raw(tmp_path_factory, refs):
    out = tmp_path_factory.mktemp("raw")
    return simulate_to_directory(out, detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P",
                                 ngroups=3, refs=refs)[0]


def test_route_file_reads_the_header(raw, tmp_path):
    route = route_file(raw)
    assert route.pipelines == (router.D1, router.IMAGE2, router.IMAGE3)
    assert Route(**vars(route)) == route
    assert next_pipeline(route, router.D1) == router.IMAGE2 and next_pipeline(route, router.IMAGE2) is None
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


def test_run_job_classifies(raw, tmp_path, refs):
    def run(pipeline, path, out=tmp_path):
        return run_job(Job(1, pipeline, str(path)), str(out), refs)

    ok = run(router.D1, raw)
    assert ok.kind is OutcomeKind.OK and [p.suffix for p in ok.products] == ["rate"]
    rate = tmp_path / raw.name.replace("_uncal", "_rate")
    assert rate.is_file()
    assert ok.products[0].sha256 == hashlib.sha256(rate.read_bytes()).hexdigest()   # checksummed by the worker
    ni = run(router.SPEC2, raw)
    assert ni.kind is OutcomeKind.NOT_IMPLEMENTED and "not implemented" in ni.reason
    junk = tmp_path / "junk_uncal.fits"
    junk.write_bytes(b"\0" * 100)
    assert run(router.D1, junk).kind is OutcomeKind.BAD_INPUT
    gone = run(router.D1, tmp_path / "missing_uncal.fits", tmp_path / "nodir")
    assert gone.kind in (OutcomeKind.BAD_INPUT, OutcomeKind.TRANSIENT)


def test_state_after_the_last_single_exposure_stage():
    assert after_single_stages(router.route({"EXP_TYPE": "NRC_DARK"}))[0] == "done"
    assert after_single_stages(router.route({"EXP_TYPE": "NRC_IMAGE"}))[0] == "waiting_association"
    state, reason = after_single_stages(router.route({"EXP_TYPE": "NIS_AMI"}))
    assert state == "failed" and "calwebb_ami3 is not implemented yet" in reason
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


def _store(path, timeout=600, clock=None):
    from streamcal.associations import AssociationStore
    from streamcal.ledger import Ledger

    ledger = Ledger(path / "ledger.sqlite", synchronous="NORMAL")
    return AssociationStore(ledger, timeout, **({"clock": clock} if clock else {}))


def _add(store, file_id, path):
    from astropy.io import fits

    return store.add_member(file_id, path, fits.getheader(path))


def test_association_store_fires_when_complete_and_resumes_from_the_ledger(raw, tmp_path):
    """4 dither members from the headers (NUMDTHPT = 4): nothing fires until the 4th; the ASN
    is written beside the products and names the `_cal` files; a new store on the same ledger
    has the same state (restart between members)."""
    from streamcal.associations import read_asn, write_firing_asn

    cals = _cal_headers(raw, tmp_path, 4)
    store = _store(tmp_path)
    assert [_add(store, 10 + k, p) for k, p in enumerate(cals[:3])] == [[], [], []]
    again = _store(tmp_path)                                         # restart between members
    (firing,) = _add(again, 13, cals[3])
    assert firing.partial is False and list(firing.member_ids) == [10, 11, 12, 13]
    asn_path = write_firing_asn(firing, tmp_path)
    asn = read_asn(asn_path)
    assert Path(asn_path).parent == tmp_path and str(asn_path).endswith("_asn.json")
    assert [m["expname"] for m in asn["products"][0]["members"]] == [Path(p).name for p in cals]
    assert _add(again, 13, cals[3]) == []                            # complete: never fires twice


def test_association_store_remakes_for_new_content_of_a_member(raw, tmp_path):
    """A member's `_cal` made again from new content (a new ledger file id under the same path)
    after the product fired: fired again, naming the new file; the same file id again: nothing."""
    cals = _cal_headers(raw, tmp_path, 4)
    store = _store(tmp_path)
    for k, p in enumerate(cals):
        fired = _add(store, 10 + k, p)
    assert [list(f.member_ids) for f in fired] == [[10, 11, 12, 13]]
    (again,) = _add(store, 21, cals[1])
    assert not again.partial and sorted(again.member_ids) == [10, 12, 13, 21]
    assert _add(store, 21, cals[1]) == []


def test_association_store_partial_after_the_timeout_then_complete(raw, tmp_path):
    from streamcal.testing import FakeClock

    cals = _cal_headers(raw, tmp_path, 4)
    clock = FakeClock(1000.0)
    store = _store(tmp_path, 30, clock)
    for k, p in enumerate(cals[:3]):
        assert _add(store, k + 1, p) == []
    assert store.expire() == []
    clock.advance(31)
    (partial,) = store.expire()
    assert partial.partial and list(partial.member_ids) == [1, 2, 3]
    (complete,) = _add(store, 4, cals[3])                           # the late member: remade
    assert not complete.partial and list(complete.member_ids) == [1, 2, 3, 4]
    assert complete.product == partial.product


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


def test_the_service_pipeline_configuration_reaches_the_product_provenance(raw, tmp_path, refs):
    """[pipelines.detector1] step parameters run (a worker's PipelineConfig) and are recorded in
    the product's PROVENANCE, as --set on the command line is."""
    import json

    from astropy.io import fits

    from streamcal.config import PipelineConfig

    config = PipelineConfig(steps={"jump": {"rejection_threshold": 7.5}, "refpix": {"skip": True}})
    ok = run_job(Job(1, router.D1, str(raw)), str(tmp_path), refs, config)
    assert ok.kind is OutcomeKind.OK
    rows = {r["STEP"]: r for r in fits.getdata(ok.products[0].path, "PROVENANCE")}
    assert json.loads(rows["jump"]["PARAMETERS"])["rejection_threshold"] == 7.5
    assert rows["refpix"]["STATUS"].strip() == "SKIPPED"


def test_a_worker_caps_its_private_memory_and_budget(tmp_path):
    """A stage worker's process (here a plain subprocess doing what StageWorker.__init__ does) caps
    its private memory at the pool's limit: beyond it numpy raises MemoryError in that process
    alone; the input budget is 3/4 of it."""
    import subprocess
    import sys

    from streamcal.config import PoolConfig

    assert PoolConfig(memory_mb=1024).private_memory_limit_mb == 4096
    assert PoolConfig(memory_mb=3072, prefault_mb=2400).private_memory_limit_mb == 12288
    assert PoolConfig(memory_limit_mb=700).private_memory_limit_mb == 700
    code = """
import numpy as np
from streamcal import memory
from streamcal.boundary import memory_budget, set_memory_budget
limit = 700 * 2**20
assert memory.limit_private_memory(limit)
set_memory_budget(limit * 3 // 4)
assert memory_budget() == limit * 3 // 4
small = np.ones(100 * 2**20 // 8)
try:
    np.ones(900 * 2**20 // 8)
except MemoryError:
    print("refused")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["refused"]
