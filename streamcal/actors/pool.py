"""A stage pool: the driver-side half of one pipeline's workers.

Hand-rolled (not ``ray.util.ActorPool``): its own bounded in-flight window (backpressure: the
queue holds paths, never loaded data), workers created on first use, a worker seen dead
(``RayActorError``) replaced, and jobs that wait for their backoff (``Job.ready_at``, decided by
:mod:`streamcal.flow`) before they may run.
"""

from __future__ import annotations

import time
from collections import deque

import ray
from ray.exceptions import RayActorError

from ..config import PipelineConfig, PoolConfig
from ..flow import Job, Outcome, OutcomeKind
from .worker import StageWorker


def worker_options(config: PoolConfig) -> dict:
    """Ray actor options of a pool's workers: CPUs, memory, custom resources, node labels."""
    options: dict = {"num_cpus": config.num_cpus}
    if config.memory_mb:
        options["memory"] = config.memory_mb * 1024 ** 2
    if config.resources:
        options["resources"] = dict(config.resources)
    if config.label_selector:
        options["label_selector"] = dict(config.label_selector)
    return options


class StagePool:
    """Workers of one pipeline plus its queue.

    Parameters
    ----------
    pipeline : str
        Full pipeline name (``calwebb_detector1``).
    config : PoolConfig
        Size, CPUs and memory per worker, in-flight bound.
    products_dir : str
        Where the workers write products.
    refs_dir : str or None
        Reference-file directory of the workers.
    pipeline_config : PipelineConfig
        Step parameters and reference overrides the workers run with.
    """

    def __init__(self, pipeline: str, config: PoolConfig, products_dir: str, refs_dir: str | None = None,
                 pipeline_config: PipelineConfig = PipelineConfig()):
        self.pipeline, self.config, self.pipeline_config = pipeline, config, pipeline_config
        self.products_dir, self.refs_dir = str(products_dir), refs_dir
        self.workers: list = [None] * config.size
        self.load = [0] * config.size
        self.queue: deque[Job] = deque()
        self.inflight: dict = {}  # ObjectRef -> (job, worker index, submit time)
        self.replaced = 0

    def _new_worker(self):
        return StageWorker.options(**worker_options(self.config)).remote(self.pipeline, self.refs_dir,
                                                                     self.config, self.pipeline_config)

    def start(self) -> None:
        """Create the workers that do not exist yet; they warm up in the background (imports,
        helper processes, memory) while the service goes on."""
        for index in range(len(self.workers)):
            self._worker(index)

    def _worker(self, index: int):
        if self.workers[index] is None:
            self.workers[index] = self._new_worker()
        return self.workers[index]

    def enqueue(self, job: Job) -> None:
        """Queue an exposure (its path only)."""
        self.queue.append(job)

    @property
    def depth(self) -> int:
        return len(self.queue)

    def take_ready(self, now: float | None = None) -> list[Job]:
        """Take from the queue the jobs that may start now: backoff passed, at most as many as
        the in-flight window has room for.  Hand each to :meth:`launch` (or drop it)."""
        now = time.time() if now is None else now
        room = self.config.max_in_flight - len(self.inflight)
        taken: list[Job] = []
        waiting: deque[Job] = deque()
        while self.queue and len(taken) < room:
            job = self.queue.popleft()
            (waiting if job.ready_at > now else taken).append(job)
        self.queue.extendleft(reversed(waiting))
        return taken

    def launch(self, job: Job):
        """Submit one job to the least-loaded worker; returns the call's ObjectRef."""
        index = min(range(len(self.workers)), key=lambda i: self.load[i])
        ref = self._worker(index).process.remote(job, self.products_dir)
        self.inflight[ref] = (job, index, time.monotonic())
        self.load[index] += 1
        return ref

    def collect(self, ref) -> tuple[Job, Outcome]:
        """The outcome of a finished call; a dead worker becomes a ``TRANSIENT`` outcome and is
        replaced by a fresh actor."""
        job, index, _ = self.inflight.pop(ref)
        self.load[index] -= 1
        try:
            outcome = ray.get(ref)
        except RayActorError as exc:
            self.replace_worker(index)
            outcome = Outcome(OutcomeKind.TRANSIENT, reason=f"worker died: {type(exc).__name__}")
        return job, outcome

    def replace_worker(self, index: int) -> None:
        """Drop worker ``index`` (killed for good) and create a new one in its place."""
        old, self.workers[index] = self.workers[index], None
        if old is not None:
            try:
                ray.kill(old, no_restart=True)
            except Exception:  # already gone
                pass
        self.replaced += 1
        # other calls still in flight on the old worker fail and are retried the same way
        self._worker(index)

    def shutdown(self) -> None:
        """Kill every worker (queued jobs stay in the ledger and resume on the next start)."""
        for worker in self.workers:
            if worker is not None:
                ray.kill(worker, no_restart=True)
        self.workers = [None] * len(self.workers)
        self.inflight.clear()
        self.queue.clear()
