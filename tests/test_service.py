"""The service on a real (lean, session-wide) Ray cluster with real files.

Every Ray test of streamcal lives in this module: one ``ray.init`` per pytest session.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from streamcal.config import IngestConfig, PoolConfig, RetryConfig, ServiceConfig, _default_pools  # noqa: E402
from streamcal.ledger import Ledger  # noqa: E402
from streamcal.sim import simulate_to_directory  # noqa: E402


@pytest.fixture(scope="session")
def ray_cluster():
    started = not ray.is_initialized()
    if started:
        ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024 ** 2,
                 log_to_driver=False, namespace="streamcal-test")
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="session")
def stock(tmp_path_factory, refs):
    """Raw exposures simulated once: name -> path (outside any landing directory)."""
    out = tmp_path_factory.mktemp("stock")
    specs = {
        "img": dict(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P", ngroups=3, n_exposures=12),
        "dark": dict(detector="NRCA1", exp_type="NRC_DARK", subarray="SUB64P", ngroups=3, observation=5),
        "tso": dict(detector="NRCA1", exp_type="NRC_TSIMAGE", subarray="SUB64P", ngroups=3, nints=2, observation=4),
        "big": dict(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB400P", ngroups=20, observation=7),
    }
    paths = {}
    for key, spec in specs.items():
        got = simulate_to_directory(out / key, refs=refs, seed=len(paths), **spec)
        for k, p in enumerate(sorted(got)):
            paths[f"{key}{k}"] = p
    return paths


def _config(landing: Path, products: Path, **pool_overrides) -> ServiceConfig:
    pools = {name: replace(pool, size=1, num_cpus=0.1, memory_mb=0, prefault_mb=0)
             for name, pool in _default_pools().items()}
    pools.update(pool_overrides)
    return ServiceConfig(landing=landing, products=products, loop_interval=0.05,
                         retries=RetryConfig(max_attempts=3, backoff_seconds=0.2),
                         ingest=IngestConfig(sweep_interval=0.5, stability_seconds=0.5, poll_interval=0.2,
                                             incomplete_timeout=20),
                         pools=pools)


def _land(src: Path, landing: Path, name: str | None = None, how: str = "rename") -> Path:
    """Land a file the way real transfers do: atomic rename from a sibling directory, a slow
    chunked write in place, or an rsync-style hidden temp file renamed into place."""
    dest = landing / (name or src.name)
    data = src.read_bytes()
    if how == "rename":
        stage = landing.parent / "staging"
        stage.mkdir(exist_ok=True)
        tmp = stage / dest.name
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    elif how == "rsync":
        tmp = landing / f".{dest.name}.Xy12ab"
        tmp.write_bytes(data)
        os.replace(tmp, dest)
    elif how == "slow":
        with open(dest, "wb") as fh:
            step = len(data) // 4 + 1
            for k in range(0, len(data), step):
                fh.write(data[k:k + step])
                fh.flush()
                time.sleep(0.15)
    return dest


def _hostile_files(landing: Path, good: Path, tmp_path: Path) -> None:
    """Bad inputs of every kind the ingest and router checks know."""
    from astropy.io import fits

    (landing / "empty_uncal.fits").write_bytes(b"")
    (landing / "adir_uncal.fits").mkdir()
    (tmp_path / "outside.fits").write_bytes(good.read_bytes())
    (landing / "link_uncal.fits").symlink_to(tmp_path / "outside.fits")
    (landing / "truncated_uncal.fits").write_bytes(good.read_bytes()[:20000])
    huge = fits.Header({"SIMPLE": True, "BITPIX": 16, "NAXIS": 3, "NAXIS1": 100000, "NAXIS2": 100000,
                        "NAXIS3": 1000, "EXTEND": True})
    (landing / "huge_uncal.fits").write_bytes(huge.tostring().encode() + b"\0" * 2880)
    with fits.open(good) as hdul:
        del hdul[0].header["EXP_TYPE"]
        hdul.writeto(landing / "noexp_uncal.fits")


def _product_files(products: Path) -> list[str]:
    return sorted(p.name for p in products.glob("*.fits"))


#: FITS products of one exposure through its stages 1 and 2 (imaging members of an image3
#: association get no quick-look `_i2d` by default, and their tweakreg catalog is ECSV).
SUFFIXES = {"img": ("rate", "cal"), "big": ("rate", "cal"), "dark": ("dark",),
            "tso": ("rate", "rateints", "calints", "o004_crfints")}   # crfints: tso3, its own association


def _expected(stock: dict, keys) -> list[str]:
    """Per-exposure product names of the stock exposures ``keys`` (``img3``, ``dark0`` ...)."""
    return sorted(stock[k].name.replace("uncal", s) for k in keys for s in SUFFIXES[k.rstrip("0123456789")])


def _exposure_files(products: Path) -> list[str]:
    """Product FITS files of single exposures (stage 3's are named after the association)."""
    return [n for n in _product_files(products) if not n.startswith("jw01234-")]


def _fits_records(ledger: Ledger) -> list:
    """The ledger's product records of FITS products (not the members' tweakreg catalogs)."""
    return [p for p in ledger.products() if p.path.endswith(".fits")]


def _ledger(products: Path) -> Ledger:
    return Ledger(products / "ledger.sqlite", synchronous="NORMAL")


def test_end_to_end_bad_input_and_duplicates(ray_cluster, stock, tmp_path):
    from streamcal.actors.service import Service

    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    _land(stock["img0"], landing)                         # present before the service starts
    service = Service(_config(landing, products)).start()
    many = [f"img{k}" for k in range(3, 12)]
    try:
        for k, key in enumerate(many):                   # a stream: every way a file lands
            _land(stock[key], landing, how=("rename", "rsync", "slow")[k % 3])
        _land(stock["img1"], landing, how="slow")
        _land(stock["dark0"], landing, how="rsync")
        _land(stock["tso0"], landing)
        (landing / "notfits_uncal.fits").write_bytes(b"hello, this is not FITS\n" * 200)
        with open(stock["img2"], "rb") as fh:
            from astropy.io import fits

            hdul = fits.open(fh)
            hdul[0].header["EXP_TYPE"] = "NRC_BOGUS"
            hdul.writeto(landing / "bogus_uncal.fits")
        _hostile_files(landing, stock["img2"], tmp_path)
        time.sleep(0.3)
        _land(stock["img0"], landing, name="copy_of_img0_uncal.fits")   # same content, other name
        assert service.wait_idle(60), service.errors
        summary = service.status()
    finally:
        service.stop()
    names = _product_files(products)
    expect = _expected(stock, ["img0", "img1", "dark0", "tso0", *many])
    assert names == expect and len(expect) == 11 * 2 + 1 + 4   # img2 of the 12-point dither never lands
    assert not list(products.glob(".*.part"))
    quarantined = {p.name.removesuffix(".reason.json"): json.loads(p.read_text())["check"]
                   for p in (products / "quarantine").glob("*.reason.json")}
    assert quarantined == {"bogus_uncal.fits": "exp_type", "notfits_uncal.fits": "fits", "empty_uncal.fits": "empty",
                           "adir_uncal.fits": "regular_file", "link_uncal.fits": "symlink",
                           "truncated_uncal.fits": "truncated", "huge_uncal.fits": "size",
                           "noexp_uncal.fits": "exp_type"}
    assert (products / "quarantine" / "link_uncal.fits").is_symlink() and (tmp_path / "outside.fits").exists()
    reason = json.loads((products / "quarantine" / "bogus_uncal.fits.reason.json").read_text())
    assert reason["check"] == "exp_type" and "NRC_BOGUS" in reason["reason"]
    with _ledger(products) as ledger:
        waiting = {r.state for r in ledger.in_flight()}
        assert waiting == {"waiting_association"}, waiting  # only the dither's members: 11 of 12 landed
        rows = ledger._db.execute("SELECT name, state, error_check FROM files").fetchall()
        states = {r["name"]: (r["state"], r["error_check"]) for r in rows}
        assert len(_fits_records(ledger)) == len(expect)
    assert states[stock["dark0"].name] == ("done", None)
    assert states[stock["img0"].name] == ("waiting_association", None)
    assert states[stock["tso0"].name] == ("done", None)          # tso1, image2, then tso3 (its light curve)
    assert len(list(products.glob("jw01234-o004_*_phot.ecsv"))) == 1
    assert states["bogus_uncal.fits"][0] == "quarantined"
    assert "copy_of_img0_uncal.fits" not in states       # an alias, never processed
    assert summary["states"]["quarantined"] == len(quarantined)


def test_killed_worker_and_restart_yield_one_product_set(ray_cluster, stock, tmp_path):
    from streamcal.actors.service import Service

    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    config = _config(landing, products)
    service = Service(config).start()
    try:
        _land(stock["img2"], landing)                      # warm the pool: the worker is up
        assert service.wait_idle(60), service.errors
        _land(stock["big0"], landing)
        pool = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:     # wait until the exposure is inside a worker
            pool = service.pools.get("calwebb_detector1")
            if pool is not None and pool.inflight:
                break
            time.sleep(0.02)
        assert pool is not None and pool.inflight
        time.sleep(0.03)                                   # inside the worker, not merely sent
        (ref,) = pool.inflight
        assert not ray.wait([ref], timeout=0)[0], "the exposure finished before the kill: make it bigger"
        ray.kill(pool.workers[0], no_restart=False)          # a crash mid-exposure
        assert service.wait_idle(60), service.errors
        assert pool.replaced >= 1
    finally:
        service.stop()
    rate = stock["big0"].name.replace("uncal", "rate")
    assert _exposure_files(products) == _expected(stock, ["big0", "img2"])
    with _ledger(products) as ledger:
        rec = ledger.by_path(str(landing / stock["big0"].name))
        assert rec.state in ("done", "failed") and rec.error_check != "not_implemented"  # its stage 3 ran
        (level1,) = [p.path for p in ledger.products(rec.id) if p.stage == "calwebb_detector1"]
        assert level1 == str(products / rate)
        attempts = [e for e in ledger.events(rec.id) if e["event"] == "started" and e["detail"]["stage"]
                    == "calwebb_detector1"]
        assert len(attempts) >= 2                          # the killed attempt was retried

    # stop in the middle of a stream, start again: resumes, nothing twice
    stream = ["img0", "dark0", "tso0"] + [f"img{k}" for k in range(3, 12)]
    for key in stream:
        _land(stock[key], landing)
    service = Service(config).start()
    time.sleep(0.4)
    service.stop(drain_timeout=0)
    with _ledger(products) as ledger:
        assert ledger.in_flight()                            # stopped mid-stream
    service = Service(config).start()
    try:
        assert service.wait_idle(60), service.errors
    finally:
        service.stop()
    expect = _expected(stock, ["big0", "img2", *stream])
    assert _exposure_files(products) == expect and not list(products.glob(".*.part"))
    with _ledger(products) as ledger:
        per_exposure = [p for p in _fits_records(ledger) if p.stage != "calwebb_image3"]
        assert len(per_exposure) == len(expect)
        assert {r.state for r in ledger.in_flight()} == {"waiting_association"}   # img1 never lands
        assert len(ledger._db.execute("SELECT id FROM files").fetchall()) == 2 + len(stream)


def test_streamcal_run_killed_with_sigkill_then_resumed(ray_cluster, stock, tmp_path):
    """``streamcal run`` joins the cluster (token auth), is SIGKILLed mid-stream, and a new
    service on the same directories finishes the job: one product set per exposure."""
    import signal
    import subprocess
    import sys

    from streamcal.actors.service import Service

    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    keys = ("img0", "img1", "img2", "dark0", "tso0", "big0")
    for key in keys:
        _land(stock[key], landing)
    cfg = tmp_path / "svc.toml"
    cfg.write_text('loop_interval = 0.05\n[ray]\nauth_mode = "token"\n'
                   "[ingest]\nsweep_interval = 0.5\nstability_seconds = 0.5\n"
                   + "".join(f"[pools.{p}]\nsize = 1\nnum_cpus = 0.1\nmemory_mb = 0\n"
                             for p in ("detector1", "tso1", "dark", "image2")))
    address = ray.get_runtime_context().gcs_address
    proc = subprocess.Popen([sys.executable, "-m", "streamcal", "run", str(landing), "--products", str(products),
                             "--config", str(cfg), "--address", address],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (products / "ledger.sqlite").exists():
                with _ledger(products) as ledger:
                    if ledger.products():
                        break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    with _ledger(products) as ledger:
        assert ledger.in_flight()                            # killed mid-stream
    service = Service(_config(landing, products)).start()
    try:
        assert service.wait_idle(60), service.errors
    finally:
        service.stop()
    expect = _expected(stock, keys)
    assert _exposure_files(products) == expect and not list(products.glob(".*.part"))
    with _ledger(products) as ledger:
        assert len([p for p in _fits_records(ledger) if p.stage != "calwebb_image3"]) == len(expect)
        assert {r.state for r in ledger.in_flight()} == {"waiting_association"}   # 3 of a 12-point dither


def test_stage_pool_bounds_in_flight_and_honours_backoff(ray_cluster, stock, tmp_path):
    from streamcal.actors.pool import StagePool
    from streamcal.flow import Job, OutcomeKind

    pool = StagePool("calwebb_detector1", PoolConfig(size=1, num_cpus=0.1, memory_mb=0, max_in_flight=2),
                     str(tmp_path))
    for k in range(3):
        pool.enqueue(Job(k, "calwebb_detector1", str(stock[f"img{k}"])))
    pool.enqueue(Job(9, "calwebb_detector1", str(stock["dark0"]), ready_at=time.time() + 3600))

    def submit():
        taken = pool.take_ready()
        for job in taken:
            pool.launch(job)
        return taken

    try:
        started = submit()
        assert [j.file_id for j in started] == [0, 1] and len(pool.inflight) == 2 and pool.depth == 2
        assert submit() == []                                        # the window is full
        outcomes = [pool.collect(ref) for ref in list(pool.inflight)]
        assert [o.kind for _, o in outcomes] == [OutcomeKind.OK, OutcomeKind.OK]
        started = submit()
        assert [j.file_id for j in started] == [2] and pool.depth == 1   # job 9 waits for its backoff
        (_, outcome), = [pool.collect(ref) for ref in list(pool.inflight)]
        assert outcome.kind is OutcomeKind.OK and outcome.node
    finally:
        pool.shutdown()
    ni = StagePool("calwebb_spec2", PoolConfig(size=1, num_cpus=0, memory_mb=0), str(tmp_path))
    try:
        ni.enqueue(Job(1, "calwebb_spec2", str(stock["img0"])))
        ni.launch(ni.take_ready()[0])
        (_, outcome), = [ni.collect(ref) for ref in list(ni.inflight)]
        assert outcome.kind is OutcomeKind.NOT_IMPLEMENTED
    finally:
        ni.shutdown()


def test_flow_actor_records_a_batch_in_one_call_and_mirrors_it_to_the_event_log(ray_cluster, stock, tmp_path):
    """land() records several arrivals in one call (one transaction): each is landed, routed and
    queued for stage 1, a bad one quarantined; every event the ledger committed reaches
    events.jsonl."""
    from streamcal.actors.flow_actor import LEDGER_NAME, FlowActor
    from streamcal.flow import Arrival, ArrivalKind
    from streamcal.router import route_file

    cfg = _config(tmp_path / "in", tmp_path / "out")
    cfg.landing.mkdir(parents=True)
    junk = cfg.landing / "junk_uncal.fits"
    junk.write_bytes(b"junk")
    arrivals = [Arrival(ArrivalKind.EXPOSURE, str(stock[k]), f"sha-{k}", 1, route=route_file(stock[k]))
                for k in ("img0", "img1")] + [Arrival(ArrivalKind.BAD, str(junk), check="fits", reason="not FITS")]
    actor = FlowActor.options(num_cpus=0).remote(cfg)
    try:
        jobs = ray.get(actor.land.remote(arrivals))
        assert [(j.file_id, j.pipeline) for j in jobs] == [(1, "calwebb_detector1"), (2, "calwebb_detector1")]
        with Ledger(cfg.products / LEDGER_NAME) as led:
            assert [led.get(i).state for i in (1, 2, 3)] == ["stage1", "stage1", "quarantined"]
        assert (cfg.products / "quarantine" / "junk_uncal.fits.reason.json").is_file()
        events = [json.loads(line) for line in (cfg.products / "events.jsonl").read_text().splitlines()]
        assert [e["event"] for e in events if e.get("file") == Path(stock["img0"]).name] == \
            ["landed", "routed", "queued"]
        assert [e["event"] for e in events if e.get("file") == "junk_uncal.fits"] == ["landed", "quarantined"]
    finally:
        ray.kill(actor, no_restart=True)


def test_stage_pool_take_ready_respects_window_and_backoff(tmp_path):
    """take_ready takes at most the free window, skipping (and keeping) jobs in backoff."""
    from streamcal.actors.pool import StagePool
    from streamcal.flow import Job

    pool = StagePool("calwebb_detector1", PoolConfig(size=1, num_cpus=0.1, memory_mb=0, max_in_flight=2),
                     str(tmp_path))
    pool.enqueue(Job(9, "calwebb_detector1", "/x9", ready_at=time.time() + 3600))
    for k in range(3):
        pool.enqueue(Job(k, "calwebb_detector1", f"/x{k}"))
    assert [j.file_id for j in pool.take_ready()] == [0, 1]
    assert [j.file_id for j in pool.queue] == [9, 2]
    assert [j.file_id for j in pool.take_ready(now=time.time() + 7200)] == [9, 2]


def test_new_content_under_a_handled_name_is_processed_and_replaces_the_product(ray_cluster, stock, refs,
                                                                               tmp_path):
    """A dark landing again under the same name with other bytes is a new input: processed, its
    `_dark` replaces the first one (same JWST name, as a reprocessing does); the ledger keeps
    both files; the same bytes again are still deduplicated, also across a restart."""
    from streamcal.actors.service import Service
    from streamcal.ledger import Ledger

    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    second = simulate_to_directory(tmp_path / "other", refs=refs, detector="NRCA1", exp_type="NRC_DARK",
                                   subarray="SUB64P", ngroups=3, observation=5, seed=77)[0]
    name = stock["dark0"].name
    assert second.name == name and second.read_bytes() != stock["dark0"].read_bytes()
    product = products / name.replace("uncal", "dark")
    config = _config(landing, products)
    service = Service(config).start()
    try:
        _land(stock["dark0"], landing)
        assert service.wait_idle(60), service.errors
        first_sha = _sha(product)
        _land(second, landing)                                   # new bytes, same name
        assert service.wait_idle(60), service.errors
        second_sha = _sha(product)
        _land(second, landing)                                   # the same bytes again
        assert service.wait_idle(60), service.errors
    finally:
        service.stop()
    _land(stock["dark0"], landing)                               # old bytes back while it is down
    service = Service(config).start()
    try:
        assert service.wait_idle(60), service.errors
    finally:
        service.stop()
    assert first_sha != second_sha and _product_files(products) == [product.name]
    with Ledger(products / "ledger.sqlite", synchronous="NORMAL") as ledger:
        files = ledger._db.execute("SELECT id, state, sha256 FROM files ORDER BY id").fetchall()
        assert [f["state"] for f in files] == ["done", "done"]   # both contents, each processed once
        (prod,) = ledger.products()
        assert prod.file_id == files[1]["id"] and prod.sha256 == second_sha
        assert [e["event"] for e in ledger.events(files[0]["id"])].count("superseded") == 1
        runs = [e for e in ledger.events() if e["event"] == "started"]
        assert len(runs) == 2                                    # old bytes again: an alias, not rerun
    # the product on disk is the one of the content that landed last and was new
    assert _sha(product) == second_sha


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
