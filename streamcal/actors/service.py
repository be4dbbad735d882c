"""The service: ingest actor -> ledger actor -> router step -> stage pools -> association buffer
actor -> stage-3 pool.

:class:`Service` is the driver: a control loop on a thread that asks the ingest actor for
complete candidates, records every transition in the ledger actor *before* handing work on,
submits work to the stage pools within their in-flight bounds, and classifies outcomes.
Usable from tests, the demo and ``streamcal run``::

    service = Service(config.with_dirs(landing, products)).start()
    service.wait_idle(60)
    service.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from pathlib import Path

import ray

from ..associations.buffer import exposure_root
from ..config import ServiceConfig, apply_auth_mode
from ..errors import BadInputError
from . import metrics
from .association import WAIT, AssociationActor, is_asn_name
from .ingest_actor import IngestActor
from .ledger_actor import LedgerActor
from .pool import Job, StagePool
from .routing import next_stage, route_dict, route_file, route_from_dict, stage_options
from .stage3 import Stage3, level1_product, level2_product
from .worker import BAD, IMPLEMENTED, NOT_IMPLEMENTED, OK, clean_partials

log = logging.getLogger("streamcal.service")


def init_ray(config: ServiceConfig) -> bool:
    """Start or join Ray as the configuration says; returns True if this call started it."""
    if ray.is_initialized():
        return False
    apply_auth_mode(config.ray)
    rc = config.ray
    kwargs = dict(namespace=rc.namespace, log_to_driver=False)
    if rc.address is None:
        kwargs.update(address="local", include_dashboard=rc.include_dashboard, dashboard_host=rc.dashboard_host,
                      num_cpus=rc.num_cpus)
        if rc.object_store_mb:
            kwargs["object_store_memory"] = rc.object_store_mb * 1024 ** 2
    else:
        kwargs["address"] = rc.address
    ray.init(**kwargs)
    return True


class Service:
    """The streaming service on a Ray cluster (see the module docstring).

    Parameters
    ----------
    config : ServiceConfig
        With ``landing`` and ``products`` set.
    """

    def __init__(self, config: ServiceConfig):
        if config.landing is None or config.products is None:
            raise ValueError("the service needs config.landing and config.products")
        self.config = config
        self.landing, self.products = Path(config.landing), Path(config.products)
        self.pools: dict[str, StagePool] = {}
        self.stage3 = Stage3(self)
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_ray = False
        self._idle = threading.Event()
        self._sweep_asked = threading.Event()
        self._landed_at: dict[int, float] = {}
        self._arrivals: deque[dict] = deque()  # candidates polled, not yet recorded
        self._held: list[Job] = []  # new content of an exposure whose older content is in work

    #: At most this many new files are recorded and routed per loop round, so that submitting
    #: and collecting work interleaves with a burst of arrivals.
    land_batch = 8

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Service":
        """Start (or join) Ray, the ledger and ingest actors, resume what was in flight, and run
        the control loop on a thread."""
        self.landing.mkdir(parents=True, exist_ok=True)
        self.products.mkdir(parents=True, exist_ok=True)
        self._started_ray = init_ray(self.config)
        actor = dict(num_cpus=0, max_restarts=-1, max_task_retries=-1)
        if self.config.ray.control_label_selector:
            actor["label_selector"] = dict(self.config.ray.control_label_selector)
        self.ledger = LedgerActor.options(**actor).remote(str(self.products))
        self.ingest = IngestActor.options(**actor).remote(str(self.landing), vars(self.config.ingest))
        self.assoc = AssociationActor.options(**actor).remote(str(self.products),
                                                              self.config.associations.late_member_timeout)
        for tmp in self.products.glob(".*.part"):  # partial products of a killed run
            tmp.unlink(missing_ok=True)
        self._resume()
        self.stage3.resume()
        ray.get(self.ingest.set_known.remote(ray.get(self.ledger.landed_times.remote())))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="streamcal-service", daemon=True)
        self._thread.start()
        return self

    def stop(self, drain_timeout: float = 30.0) -> None:
        """Stop taking new files, let in-flight work finish (up to ``drain_timeout``), stop the
        actors.  Queued work stays in the ledger and resumes on the next start."""
        self._drain_timeout = drain_timeout
        self._stop.set()
        if self._thread is not None:
            self._thread.join(drain_timeout + 30)
        for pool in self.pools.values():
            pool.shutdown()
        for name in ("ingest", "assoc", "ledger"):
            handle = getattr(self, name, None)
            if handle is not None:
                try:
                    ray.get(handle.close.remote(), timeout=10)
                except Exception:
                    pass
                ray.kill(handle, no_restart=True)
        if self._started_ray:
            ray.shutdown()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until a fresh sweep of the landing directory found nothing new and no work is
        queued or in flight; True if that happened within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        self._idle.clear()
        self._sweep_asked.set()
        while time.monotonic() < deadline:
            if self._idle.wait(0.1):
                return True
            if self._thread is not None and not self._thread.is_alive():
                raise RuntimeError(f"service loop died: {self.errors[-1:] or 'unknown'}")
        return False

    def status(self) -> dict:
        """The ledger's summary plus the live queue and in-flight counts per pool."""
        summary = ray.get(self.ledger.summary.remote())
        summary["pools"] = {p: {"queued": pool.depth, "in_flight": len(pool.inflight), "replaced": pool.replaced}
                            for p, pool in self.pools.items()}
        return summary

    # ------------------------------------------------------------------ pieces
    def pool(self, pipeline: str) -> StagePool:
        """The pool of a pipeline (created on first use)."""
        if pipeline not in self.pools:
            self.pools[pipeline] = StagePool(pipeline, self.config.pool(pipeline), str(self.products),
                                             self.config.refs)
        return self.pools[pipeline]

    def _ledger(self, method: str, *args, **kwargs):
        return ray.get(getattr(self.ledger, method).remote(*args, **kwargs))

    def _apply(self, ops: list) -> list:
        """Run ``(group, method, args, kwargs)`` ops in one ledger transaction (see
        :meth:`LedgerActor.apply`); everything reported ``ok`` is committed on return."""
        return ray.get(self.ledger.apply.remote(ops)) if ops else []

    def _enqueue(self, file_id: int, path: str, pipeline: str, route: dict, state: str) -> None:
        self._ledger("transition", file_id, state, stage=pipeline)
        self._enqueue_new(Job(file_id, path, pipeline, self._landed_at.get(file_id, time.time()), route=route))

    def _start_pools_of(self, route: dict) -> None:
        """Start the workers of the later stages of an exposure's route now: they are warm when
        its stage-1 product (or its association) is ready, instead of starting then (~12 s for
        an image3 worker: imports, drizzle helper, memory)."""
        for key in ("stage2", "stage3"):
            if route.get(key) in IMPLEMENTED:
                self.pool(route[key]).start()

    def _route_or_quarantine(self, file_id: int, path: str) -> dict | None:
        """The route (as stored in the ledger), or ``None`` once a file whose header cannot be
        routed has been quarantined."""
        try:
            return route_dict(route_file(path))
        except BadInputError as exc:
            self._quarantine(file_id, path, exc.check, exc.reason, stage="router")
            return None

    def _route_new(self, file_id: int, path: str) -> None:
        rd = self._route_or_quarantine(file_id, path)
        if rd is None:
            return
        self._ledger("transition", file_id, "routed", route=rd)
        self._enqueue(file_id, path, rd["stage1"], rd, "stage1")

    def _quarantine(self, file_id, path, check, reason, stage="ingest") -> None:
        metrics.failures().inc(1.0, tags={"stage": stage, "reason": f"quarantine:{check}"})
        self._ledger("quarantine", file_id, path, check, reason)

    def _resume(self) -> None:
        for rec in self._ledger("in_flight"):
            fid, path, state = rec["id"], rec["path"], rec["state"]
            self._landed_at[fid] = rec.get("landed_at") or time.time()
            route = rec.get("route")
            if is_asn_name(path) and state in ("landed", "routed"):
                self.stage3.asn_landed(fid, path, state)
                continue
            if state == "landed" or not route:
                if state == "landed":
                    self._route_new(fid, path)
                continue
            if state == "routed":
                self._enqueue(fid, path, route["stage1"], route, "stage1")
            elif state in ("stage1", "stage2"):
                stage = rec.get("stage") or route[state]
                if state == "stage2":  # stage 2 reads the stage-1 product
                    path = level1_product(self._products_of(fid), route_from_dict(route)) or path
                self.pool(stage).enqueue(Job(fid, path, stage, self._landed_at[fid], route=route,
                                             options=stage_options(stage, route, self.config)))
                self._start_pools_of(route)
            elif state == "waiting_association":  # (again: the buffer ignores what it has)
                self.stage3.add_member(fid, level2_product(self._products_of(fid)))
            # stage3: the ledger's associations being made are queued by Stage3.resume

    def _products_of(self, file_id: int) -> list:
        return [[p["path"], p["suffix"]] for p in self._ledger("products", file_id)]

    # ------------------------------------------------------------------ the loop
    def _run(self) -> None:
        last_sweep = last_poll = 0.0
        draining_since = None
        while True:
            try:
                if self._stop.is_set():
                    draining_since = draining_since or time.monotonic()
                    busy = any(p.inflight for p in self.pools.values())
                    if not busy or time.monotonic() - draining_since > getattr(self, "_drain_timeout", 30):
                        return
                    self._collect(self.config.loop_interval)
                    continue
                now = time.monotonic()
                sweep = self._sweep_asked.is_set() or now - last_sweep >= self.config.ingest.sweep_interval
                if sweep:
                    asked = self._sweep_asked.is_set()
                    self._sweep_asked.clear()
                    last_sweep = now
                # while results stream in the loop turns fast: ask the ingest actor at most
                # every half loop_interval (a sweep asks at once)
                poll = sweep or now - last_poll >= self.config.loop_interval / 2
                batch = {"candidates": [], "pending": 0}
                if poll:
                    last_poll = now
                    batch = ray.get(self.ingest.poll.remote(sweep))
                    self._arrivals.extend(batch["candidates"])
                self._release_held()
                self._submit()  # work already queued starts before new arrivals are recorded
                self._land_some()
                self._submit()
                self._collect(self.config.loop_interval)
                if poll:
                    self._gauges()
                if sweep:
                    self.stage3.expire()
                if (sweep and asked and not batch["candidates"] and not self._arrivals and batch["pending"] == 0
                        and self._quiet()):
                    self._idle.set()
                elif sweep and asked:
                    self._sweep_asked.set()  # not idle yet: sweep again next round
            except Exception as exc:  # keep the service up; the error is logged and kept
                log.exception("service loop error")
                self.errors.append(f"{type(exc).__name__}: {exc}")
                if len(self.errors) > 1000:
                    del self.errors[:500]
                time.sleep(self.config.loop_interval)

    def _quiet(self) -> bool:
        return not self._held and all(not p.queue and not p.inflight for p in self.pools.values())

    def _predecessor_busy(self, job: Job) -> bool:
        """Whether other content of the same exposure is queued or in work in a stage: new bytes
        landing under a name still being processed wait for it, so that the newest content's
        products are the ones left on disk (both would write the same product names)."""
        root = exposure_root(Path(job.path).name)
        return any(other.file_id != job.file_id and exposure_root(Path(other.path).name) == root
                   for pool in self.pools.values() for other in pool.jobs())

    def _enqueue_new(self, job: Job) -> None:
        """Queue a newly landed exposure, or hold it while its older content is in work."""
        if self._predecessor_busy(job):
            self._held.append(job)
        else:
            self.pool(job.pipeline).enqueue(job)
        self._start_pools_of(job.route)

    def _release_held(self) -> None:
        """Queue the held exposures whose older content has left the stages."""
        held, self._held = self._held, []
        for job in held:
            self._enqueue_new(job)

    def _land_some(self) -> None:
        """Record up to :attr:`land_batch` arrivals (one ledger call), route the new ones and
        move them to stage 1 (one more ledger call), then queue them; association files go to
        the association buffer."""
        cands = [self._arrivals.popleft() for _ in range(min(self.land_batch, len(self._arrivals)))]
        good = []
        for cand in cands:
            if cand["kind"] == "bad":
                self._quarantine(None, cand["path"], cand["check"], cand["reason"])
            else:
                good.append(cand)
        results = self._apply([(None, "record_landed", (c["path"], c["sha256"], c["size"]), {}) for c in good])
        ops, jobs, asns = [], [], []
        for cand, res in zip(good, results):
            if "ok" not in res:
                self.errors.append(f"{cand['path']}: {res.get('error')}")
                continue
            file_id, is_new = res["ok"]
            if not is_new:
                continue
            metrics.files_landed().inc()
            self._landed_at[file_id] = time.time()
            path = cand["path"]
            if cand["kind"] == "asn":
                asns.append((file_id, path))
                continue
            if "unroutable" in cand:  # routed by the ingest actor (see ingest_actor._route)
                self._quarantine(file_id, path, *cand["unroutable"], stage="router")
                continue
            rd = cand.get("route") or self._route_or_quarantine(file_id, path)
            if rd is None:
                continue
            ops += [(file_id, "transition", (file_id, "routed"), {"route": rd}),
                    (file_id, "transition", (file_id, "stage1"), {"stage": rd["stage1"]})]
            jobs.append(Job(file_id, path, rd["stage1"], self._landed_at[file_id], route=rd))
        results = self._apply(ops)
        for job, res in zip(jobs, results[1::2]):
            if "ok" in res:  # committed: now the work may be handed on
                self._enqueue_new(job)
            else:
                self.errors.append(f"{job.path}: {res.get('error') or 'not routed'}")
        for file_id, path in asns:
            self.stage3.asn_landed(file_id, path)

    def _submit(self) -> None:
        """Start every job that may start now; their attempts are recorded in one ledger call
        before any of them is handed to a worker."""
        taken = [(pool, job) for pool in self.pools.values() for job in pool.take_ready()]
        if not taken:
            return
        results = self._apply([(None, "start_association", (job.association,), {}) if job.association else
                               (None, "start_attempt", (job.file_id, job.pipeline), {}) for _, job in taken])
        for (pool, job), res in zip(taken, results):
            if "ok" not in res:  # no longer in flight (e.g. failed meanwhile): drop it
                self.errors.append(f"{job.path}: {res.get('error')}")
                continue
            job.attempts = res["ok"]
            if job.attempts > self.config.retries.max_attempts:
                self._fail(job, f"gave up after {job.attempts - 1} attempts", "attempts")
                continue
            pool.launch(job)

    def _fail(self, job: Job, reason: str, check: str) -> None:
        metrics.failures().inc(1.0, tags={"stage": job.pipeline, "reason": check})
        if job.association:
            self._ledger("end_association", job.association, "failed", error=reason, check=check)
            self.stage3.finished(job.association)
        else:
            self._ledger("transition", job.file_id, "failed", stage=job.pipeline, error=reason, check=check)

    def _collect(self, timeout: float) -> None:
        owner = {ref: pool for pool in self.pools.values() for ref in pool.inflight}
        if not owner:
            time.sleep(timeout)
            return
        ready, _ = ray.wait(list(owner), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(owner), num_returns=len(owner), timeout=0)
        done = [owner[ref].collect(ref) for ref in ready]
        self._record_ok([(job, o) for job, o in done if o["kind"] == OK])
        for job, outcome in done:
            if outcome["kind"] != OK:
                self._outcome(job, outcome)

    def _record_ok(self, finished: list) -> None:
        """Record the products and next state of every successful call in one ledger call
        (two ops per call), then hand each on: the next stage's pool, the association buffer,
        or (stage 3) the remake that waited (only what the ledger committed)."""
        ops, nexts = [], []
        for job, outcome in finished:
            ops.append((job.file_id, "record_products",
                        (job.file_id, outcome["products"], job.pipeline, outcome["seconds"]),
                        {"node": outcome.get("node")}))
            metrics.latency_seconds().observe(max(time.time() - job.landed_at, 0.0), tags={"stage": job.pipeline})
            if job.association:
                ops.append((job.file_id, "end_association", (job.association, "done"), {}))
                nexts.append((job, "made", None))
                continue
            route = route_from_dict(job.route)
            nxt = next_stage(route, job.pipeline)
            if nxt is not None:
                ops.append((job.file_id, "transition", (job.file_id, "stage2"), {"stage": nxt}))
                path = level1_product(outcome["products"], route) or job.path
                nexts.append((job, "next", Job(job.file_id, path, nxt, job.landed_at, route=job.route,
                                               options=stage_options(nxt, job.route, self.config))))
                continue
            state, why = self.stage3.state_after(route)
            ops.append((job.file_id, "transition", (job.file_id, state), {"stage": job.pipeline, **why}))
            nexts.append((job, "member" if state == WAIT else "end", level2_product(outcome["products"])))
        results = self._apply(ops)
        for (job, kind, then), res in zip(nexts, results[1::2]):
            if "ok" not in res:
                self.errors.append(f"{job.path}: {res.get('error') or 'products not recorded'}")
            elif kind == "next":
                self.pool(then.pipeline).enqueue(then)
            elif kind == "member":
                self.stage3.add_member(job.file_id, then)
            elif kind == "made":
                self.stage3.finished(job.association)

    def _outcome(self, job: Job, outcome: dict) -> None:
        """A call that did not succeed: quarantine (bad input; an association fails instead),
        fail (not implemented), or retry with backoff (transient) until the attempts run out."""
        kind = outcome["kind"]
        if kind == BAD and not job.association:
            self._quarantine(job.file_id, job.path, outcome["check"], outcome["reason"], stage=job.pipeline)
        elif kind in (BAD, NOT_IMPLEMENTED):
            self._fail(job, outcome["reason"], outcome.get("check") or "not_implemented")
        else:  # transient: retry with backoff unless the attempts are used up
            metrics.failures().inc(1.0, tags={"stage": job.pipeline, "reason": "transient"})
            clean_partials(self.products, job.path)
            if job.attempts >= self.config.retries.max_attempts:
                self._fail(job, f"{outcome['reason']} (after {job.attempts} attempts)", "transient")
            else:
                job.ready_at = time.monotonic() + self.config.retries.delay(job.attempts)
                self.pool(job.pipeline).enqueue(job)

    def _gauges(self) -> None:
        for name, pool in self.pools.items():
            metrics.queue_depth().set(pool.depth, tags={"stage": name})
            metrics.in_flight().set(len(pool.inflight), tags={"stage": name})


def run_forever(config: ServiceConfig, *, report_every: float = 30.0) -> int:
    """``streamcal run``: start the service and keep it up until Ctrl-C or SIGTERM, then drain
    and stop.  Returns the exit code."""
    import signal
    import sys

    def _term(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _term)
    service = Service(config)
    try:
        service.start()
        signal.signal(signal.SIGTERM, _term)  # again: joining a cluster installs Ray's own handler
        print(f"streamcal: watching {service.landing}, products in {service.products} "
              f"(Ray dashboard at {config.ray.dashboard_host}:8265 when enabled); Ctrl-C stops",
              file=sys.stderr)
        while True:
            time.sleep(report_every)
            states = service.status()["states"]
            print("streamcal: " + ", ".join(f"{k} {v}" for k, v in states.items() if v), file=sys.stderr)
    except KeyboardInterrupt:
        print("streamcal: stopping (draining in-flight work)", file=sys.stderr)
    finally:
        service.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0
