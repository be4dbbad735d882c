"""The service: ingest actor -> flow actor (the orchestration core on the ledger) -> stage pools.

:class:`Service` is the driver, a thin adapter: a control loop on a thread that moves arrivals
from the ingest actor to the flow actor, the flow's jobs to the stage pools (within their
in-flight bounds), and the workers' outcomes back to the flow.  Every decision — routing,
readiness, associations, retries, quarantine — is :mod:`streamcal.flow`'s.
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

from .. import registry
from ..config import ServiceConfig, apply_auth_mode
from ..flow import Arrival, Job
from . import metrics
from .flow_actor import FlowActor
from .ingest_actor import IngestActor
from .pool import StagePool

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

    #: At most this many new files are recorded and routed per loop round, so that submitting
    #: and collecting work interleaves with a burst of arrivals.
    land_batch = 8

    def __init__(self, config: ServiceConfig):
        if config.landing is None or config.products is None:
            raise ValueError("the service needs config.landing and config.products")
        self.config = config
        self.landing, self.products = Path(config.landing), Path(config.products)
        self.pools: dict[str, StagePool] = {}
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_ray = False
        self._idle = threading.Event()
        self._sweep_asked = threading.Event()
        self._arrivals: deque[Arrival] = deque()  # found by ingest, not yet handed to the flow

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Service":
        """Start (or join) Ray, the flow and ingest actors, resume what was in flight, and run
        the control loop on a thread."""
        self.landing.mkdir(parents=True, exist_ok=True)
        self.products.mkdir(parents=True, exist_ok=True)
        self._started_ray = init_ray(self.config)
        actor = dict(num_cpus=0, max_restarts=-1, max_task_retries=-1)
        if self.config.ray.control_label_selector:
            actor["label_selector"] = dict(self.config.ray.control_label_selector)
        self.flow = FlowActor.options(**actor).remote(self.config)
        self.ingest = IngestActor.options(**actor).remote(str(self.landing), vars(self.config.ingest))
        for tmp in self.products.glob(".*.part"):  # partial products of a killed run
            tmp.unlink(missing_ok=True)
        self._queue(ray.get(self.flow.resume.remote()))
        ray.get(self.ingest.set_known.remote(ray.get(self.flow.landed_times.remote())))
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
        for name in ("ingest", "flow"):
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
        queued, in flight, held or waiting; True if that happened within ``timeout`` seconds."""
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
        summary = ray.get(self.flow.summary.remote())
        summary["pools"] = {p: {"queued": pool.depth, "in_flight": len(pool.inflight), "replaced": pool.replaced}
                            for p, pool in self.pools.items()}
        return summary

    # ------------------------------------------------------------------ pools
    def pool(self, pipeline: str) -> StagePool:
        """The pool of a pipeline (created on first use)."""
        if pipeline not in self.pools:
            self.pools[pipeline] = StagePool(pipeline, self.config.pool(pipeline), str(self.products),
                                             self.config.refs, self.config.pipeline(pipeline))
        return self.pools[pipeline]

    def _queue(self, jobs: list[Job]) -> None:
        """Queue the flow's jobs; start the workers of their later stages now, so that they are
        warm when the stage-1 product (or the association) is ready (~12 s for an image3 worker:
        imports, drizzle helper, memory)."""
        for job in jobs:
            self.pool(job.pipeline).enqueue(job)
            for later in (job.route.stage2, job.route.stage3) if job.route else ():
                if registry.implemented(later):
                    self.pool(later).start()

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
                asked = self._sweep_asked.is_set()
                if sweep:
                    self._sweep_asked.clear()
                    last_sweep = now
                # while results stream in the loop turns fast: ask the ingest actor at most
                # every half loop_interval (a sweep asks at once)
                poll = sweep or now - last_poll >= self.config.loop_interval / 2
                found, pending = [], 0
                if poll:
                    last_poll = now
                    found, pending = ray.get(self.ingest.poll.remote(sweep))
                    self._arrivals.extend(found)
                self._submit()  # work already queued starts before new arrivals are recorded
                self._land_some()
                self._submit()
                self._collect(self.config.loop_interval)
                if poll:
                    self._gauges()
                if sweep:
                    self._queue(ray.get(self.flow.tick.remote()))
                    self.errors += ray.get(self.flow.errors.remote())
                if sweep and asked:
                    if not found and not self._arrivals and pending == 0 and self._quiet():
                        self._idle.set()
                    else:
                        self._sweep_asked.set()  # not idle yet: sweep again next round
            except Exception as exc:  # keep the service up; the error is logged and kept
                log.exception("service loop error")
                self.errors.append(f"{type(exc).__name__}: {exc}")
                if len(self.errors) > 1000:
                    del self.errors[:500]
                time.sleep(self.config.loop_interval)

    def _quiet(self) -> bool:
        pools_empty = all(not p.queue and not p.inflight for p in self.pools.values())
        return pools_empty and ray.get(self.flow.idle.remote())

    def _land_some(self) -> None:
        """Hand up to :attr:`land_batch` arrivals to the flow (one call, one ledger transaction)."""
        batch = [self._arrivals.popleft() for _ in range(min(self.land_batch, len(self._arrivals)))]
        if batch:
            self._queue(ray.get(self.flow.land.remote(batch)))

    def _submit(self) -> None:
        """Start every job that may start now; the flow records their attempts in one call before
        any of them is handed to a worker."""
        taken = [job for pool in self.pools.values() for job in pool.take_ready()]
        if taken:
            for job in ray.get(self.flow.start.remote(taken)):
                self.pool(job.pipeline).launch(job)

    def _collect(self, timeout: float) -> None:
        owner = {ref: pool for pool in self.pools.values() for ref in pool.inflight}
        if not owner:
            time.sleep(timeout)
            return
        ready, _ = ray.wait(list(owner), num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(list(owner), num_returns=len(owner), timeout=0)
        results = [owner[ref].collect(ref) for ref in ready]
        if results:
            self._queue(ray.get(self.flow.finish.remote(results)))

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
