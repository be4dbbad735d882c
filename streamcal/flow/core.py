"""The orchestration core: every decision of the stream, on a ledger, without Ray.

Follow one exposure top to bottom:

1. :meth:`Flow.land` — ingest found a complete file.  The ledger records it (deduplicated by
   content), routes it (``routed``), and puts it in its stage-1 pipeline (``stage1``); a bad or
   unroutable file is ``quarantined`` at once.  New bytes under a name whose older content is
   still in work are held until that work ends (both would write the same product names).
2. :meth:`Flow.start` — a pool has room: the ledger counts the attempt before the job is handed
   to a worker; a job out of attempts fails instead.
3. :meth:`Flow.finish` — a worker reported.  Success: its products are recorded, then the next
   pipeline is queued (``stage2``, reading the stage-1 product; after waiting for other stages'
   products it needs), or the exposure is ``done``, or ``waiting_association`` and joins its
   association candidates in the same transaction — which may fire stage 3.  Failure: bad input is
   quarantined, a pipeline without an engine fails, a transient failure is retried with backoff.
4. Stage 3 (:meth:`Flow._fire`): a firing writes the ASN, records the association (``stage3``) and
   queues its job; a firing for a product being made is remembered in the ledger and made when the
   running job ends.
5. :meth:`Flow.tick` — time passes: late-member timeouts fire partial products; exposures that
   waited too long for another stage's products fail, saying which.
6. :meth:`Flow.resume` — after a restart, everything the ledger shows in flight is queued again.

Every change is committed to the ledger *before* the jobs it makes are returned, so the shell can
only hand on work the ledger knows about; the ledger's listener mirrors each commit to the event
log.  The shell (:mod:`streamcal.actors`) moves jobs to workers and outcomes back, nothing else.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .. import registry
from ..associations.buffer import exposure_root
from ..config import ServiceConfig
from ..ledger import AssociationRecord, FileRecord, Ledger
from ..router import Route
from .jobs import Arrival, ArrivalKind, Job, Outcome, OutcomeKind, StageOptions, is_asn_name
from .policy import Verdict, decide
from .readiness import (WAITING, CrossWait, after_single_stages, missing_inputs, next_pipeline,
                        observation_prefix, stage_input, stage_options)

__all__ = ["Flow"]


@dataclass(frozen=True)
class _Move:
    """A file to move to quarantine once the ledger committed its state."""

    path: str
    check: str
    reason: str


class Flow:
    """The stream's decisions (see the module docstring).

    Parameters
    ----------
    ledger : Ledger
        The durable state; the flow is its only writer.
    config : ServiceConfig
        Retries, timeouts, landing and products directories.
    associations : object
        The association store on the same ledger
        (:class:`streamcal.associations.store.AssociationStore`): ``add_member``, ``add_asn``,
        ``expire``, ``refire``.
    write_asn : callable
        ``write_asn(firing) -> path``: writes a firing's ASN file, returns its path.
    read_header : callable
        ``read_header(path) -> header`` of a level-2 product (its association keywords).
    route_file : callable
        ``route_file(path) -> Route`` of a raw file (raises BadInputError), for files the ledger
        recorded but never routed.
    quarantine : callable
        ``quarantine(path, check, reason)``: moves a bad file away; called after the commit.
    clock : callable
        Seconds since the epoch.
    """

    def __init__(self, ledger: Ledger, config: ServiceConfig, associations, *,
                 write_asn: Callable, read_header: Callable, route_file: Callable,
                 quarantine: Callable[[str, str, str], None], clock: Callable[[], float] = time.time):
        self.ledger, self.config, self.associations = ledger, config, associations
        self._write_asn, self._read_header, self._route_file = write_asn, read_header, route_file
        self._quarantine_file = quarantine
        self.clock = clock
        self.work: dict[tuple, Job] = {}       # handed to the shell, not finished
        self._roots: dict[str, set[int]] = {}  # exposure root -> file ids in work under it
        self.held: list[Job] = []              # new content waiting for its name's older content
        self._later: list[Job] = []            # made while starting jobs: handed out next time
        self.waits: dict[int, CrossWait] = {}  # waiting for other stages' products
        self.errors: list[str] = []
        self._moves: list[_Move] = []

    # ------------------------------------------------------------------ the shell's calls
    def land(self, arrivals: Iterable[Arrival]) -> list[Job]:
        """Record what ingest found; returns the jobs to queue."""
        jobs: list[Job] = []
        with self._commit():
            for arrival in arrivals:
                with self._isolated(arrival.path):
                    jobs += self._land_one(arrival)
        return self._hand_out(jobs)

    def start(self, jobs: Iterable[Job]) -> list[Job]:
        """Count an attempt of each job before it runs; returns those that may run (a job out of
        attempts fails, a job no longer in flight is dropped)."""
        out = []
        with self._commit():
            for job in jobs:
                try:
                    with self.ledger.unit():
                        attempt = (self.ledger.start_association(job.association) if job.association
                                   else self.ledger.start_attempt(job.file_id, job.pipeline))
                except (KeyError, ValueError) as exc:  # no longer in flight (failed meanwhile)
                    self._untrack(job)
                    self.errors.append(f"{job.path}: not started ({type(exc).__name__}: {exc})")
                    continue
                if attempt > self.config.retries.max_attempts:  # e.g. it crashed the service each time
                    self._untrack(job)
                    self._later += self._fail(job, f"gave up after {attempt - 1} attempts", "attempts")
                    continue
                out.append(job.with_(attempt=attempt))
                self.work[job.key] = out[-1]
        return out

    def finish(self, results: Iterable[tuple[Job, Outcome]]) -> list[Job]:
        """Record what workers reported; returns the jobs that follow (next stage, stage 3,
        retries with their backoff, held content released)."""
        jobs: list[Job] = []
        with self._commit():
            for job, outcome in results:
                self._untrack(job)
                handle = self._succeeded if outcome.kind is OutcomeKind.OK else self._unsuccessful
                with self._isolated(job.path, job):
                    jobs += handle(job, outcome)
            now = self.clock()
            for file_id in list(self.waits):  # a product just made may be what one waits for
                jobs += self._recheck_wait(file_id, now)
        return self._hand_out(jobs + self._release_held())

    def tick(self) -> list[Job]:
        """Housekeeping as time passes: late-member timeouts, cross-stage waits."""
        now = self.clock()
        jobs: list[Job] = []
        with self._commit():
            jobs += self._fire(self.associations.expire(now))
            for file_id in list(self.waits):
                jobs += self._recheck_wait(file_id, now)
        return self._hand_out(jobs)

    def resume(self) -> list[Job]:
        """Queue again everything the ledger shows in flight (after a restart)."""
        jobs: list[Job] = []
        with self._commit():
            for rec in self.ledger.in_flight():
                self.ledger.note(rec.id, "resumed", {"state": rec.state, "stage": rec.stage})
                jobs += self._resume_file(rec)
            for assoc in self.ledger.associations():
                jobs += self._resume_association(assoc)
        return self._hand_out(jobs)

    @property
    def idle(self) -> bool:
        """No job handed out, held or waiting for another stage."""
        return not (self.work or self.held or self.waits)

    # ------------------------------------------------------------------ landing
    def _land_one(self, arrival: Arrival) -> list[Job]:
        if arrival.kind is ArrivalKind.BAD:
            self._quarantine(None, arrival.path, arrival.check, arrival.reason)
            return []
        file_id, is_new = self.ledger.record_landed(arrival.path, arrival.sha256, arrival.size)
        if not is_new:
            return []
        if arrival.kind is ArrivalKind.ASSOCIATION:
            return self._asn_landed(file_id, arrival.path)
        if arrival.route is None:
            self._quarantine(file_id, arrival.path, arrival.check or "exp_type", arrival.reason)
            return []
        return self._routed(file_id, arrival.path, arrival.route, self.clock())

    def _routed(self, file_id: int, path: str, route: Route, landed_at: float) -> list[Job]:
        self.ledger.transition(file_id, "routed", route=route)
        self.ledger.transition(file_id, "stage1", stage=route.stage1)
        return [Job(file_id, route.stage1, path, landed_at, route)]

    def _asn_landed(self, file_id: int, path: str, state: str = "landed") -> list[Job]:
        """An ASN file: its members become the expected ones; the file itself is done."""
        from ..associations import AsnError, read_asn

        try:
            firings = self.associations.add_asn(read_asn(path))
        except (AsnError, OSError, ValueError) as exc:
            self._quarantine(file_id, path, "asn", f"association file not usable: {exc}")
            return []
        if state == "landed":
            self.ledger.transition(file_id, "routed", route={"asn": True})
        self.ledger.transition(file_id, "done", stage="associations")
        return self._fire(firings)

    def _quarantine(self, file_id: int | None, path: str, check: str, reason: str) -> None:
        """Record a bad file as quarantined (a file never recorded is recorded first, under its
        content hash or, without content, a key unique to this sighting); moved after the commit."""
        if file_id is None:
            file_id = self._record_bad(path)
        if file_id is not None:
            self.ledger.transition(file_id, "quarantined", error=reason, check=check)
        self._moves.append(_Move(path, check, reason))

    def _record_bad(self, path: str) -> int | None:
        from ..ingest import content_sha256

        p = Path(path)
        try:
            regular = p.is_file() and not p.is_symlink() and p.stat().st_size > 0
            sha, size = (content_sha256(p), p.stat().st_size) if regular else (None, 0)
        except OSError:
            sha, size = None, 0
        file_id, is_new = self.ledger.record_landed(path, sha or f"nohash:{path}:{time.time_ns()}", size)
        return file_id if is_new else None  # the same content again: move it, leave the record

    # ------------------------------------------------------------------ outcomes
    def _succeeded(self, job: Job, outcome: Outcome) -> list[Job]:
        self.ledger.note(job.file_id, "finished", {"stage": job.pipeline, "seconds": round(outcome.seconds, 3),
                                                   "node": outcome.node, "association": job.association})
        for product in outcome.products:
            self.ledger.record_product(job.file_id, product.path, product.suffix, job.pipeline, product.sha256)
        if job.association:
            return self._association_ended(job.association, "done")
        nxt = next_pipeline(job.route, job.pipeline)
        if nxt is not None:
            return self._next_stage(job, nxt, stage_input(job.route, outcome) or job.path)
        state, reason = after_single_stages(job.route)
        if state != WAITING:
            self.ledger.transition(job.file_id, state, stage=job.pipeline, error=reason or None,
                                   check="not_implemented" if reason else None)
            return []
        self.ledger.transition(job.file_id, state, stage=job.pipeline)
        return self._join_association(job, outcome.product("cal", "calints"))

    def _unsuccessful(self, job: Job, outcome: Outcome) -> list[Job]:
        decision = decide(job, outcome, self.config.retries, self.clock())
        if decision.verdict is Verdict.QUARANTINE:
            self._quarantine(job.file_id, job.path, decision.check, decision.reason)
        elif decision.verdict is Verdict.FAIL:
            return self._fail(job, decision.reason, decision.check)
        else:
            self.ledger.note(job.file_id, "retried", {"stage": job.pipeline, "attempt": job.attempt,
                                                      "reason": decision.reason,
                                                      "delay": round(decision.ready_at - self.clock(), 3)})
            return [job.with_(ready_at=decision.ready_at)]
        return []

    def _fail(self, job: Job, reason: str, check: str) -> list[Job]:
        if job.association:
            return self._association_ended(job.association, "failed", reason, check)
        self.ledger.transition(job.file_id, "failed", stage=job.pipeline, error=reason, check=check)
        return []

    # ------------------------------------------------------------------ stage 2 and its inputs
    def _next_stage(self, job: Job, pipeline: str, path: str, since: float | None = None) -> list[Job]:
        if since is None:
            self.ledger.transition(job.file_id, "stage2", stage=pipeline)
            since = self.clock()
        options = stage_options(pipeline, job.route, stage3_quicklook=self.config.associations.stage3_quicklook)
        nxt = Job(job.file_id, pipeline, path, job.landed_at, job.route, options=options)
        if not registry.entry(pipeline).needs:
            return [nxt]
        self.waits[job.file_id] = CrossWait(nxt, since)
        return self._recheck_wait(job.file_id, since)

    def _recheck_wait(self, file_id: int, now: float) -> list[Job]:
        """Release a waiting job whose cross-stage products are there; fail one that waited too long."""
        wait = self.waits[file_id]
        job = wait.job
        prefix = observation_prefix(job.path) or ""
        available = {need.pipeline: [p.path for p in self.ledger.stage_products(need.pipeline, prefix)]
                     for need in registry.entry(job.pipeline).needs}
        missing = missing_inputs(job.route, job.pipeline, available)
        if not missing:
            del self.waits[file_id]
            extra = tuple(p for paths in available.values() for p in paths)
            return [job.with_(options=StageOptions(**{**vars(job.options), "extra_inputs": extra}))]
        timeout = self.config.associations.cross_input_timeout
        if now - wait.since >= timeout:
            del self.waits[file_id]
            reason = (f"{job.pipeline} needs {', '.join(missing)} of observation {prefix.rstrip('_') or '?'}; "
                      f"not made within {timeout:g} s")
            return self._fail(job, reason, "cross_input")
        return []

    # ------------------------------------------------------------------ stage 3
    def _join_association(self, job: Job, cal_path: str | None) -> list[Job]:
        if cal_path is None:
            return self._fail(job, "stage 2 wrote no _cal or _calints product to associate", "association")
        try:
            header = self._read_header(cal_path)
        except Exception as exc:  # the product streamcal just wrote: an I/O problem, not bad input
            return self._fail(job, f"association buffer cannot read {cal_path}: {exc}", "association")
        return self._fire(self.associations.add_member(job.file_id, cal_path, header))

    def _fire(self, firings) -> list[Job]:
        jobs = []
        for firing in firings:
            if ("association", firing.product) in self.work:  # being made: remade when it ends
                self.ledger.request_remake(firing.product)
                continue
            asn_path = str(self._write_asn(firing))
            pipeline = registry.canonical(str(firing.asn.get("asn_type") or "image3"))
            rec = self.ledger.fire_association(firing.product, asn_path, pipeline, list(firing.member_ids),
                                               firing.partial)
            jobs.append(self._association_job(rec))
        return jobs

    def _association_job(self, rec: AssociationRecord) -> Job:
        ids = rec.members
        landed = max((self.ledger.get(i).landed_at for i in ids), default=self.clock())
        roots = (str(self.config.landing), str(self.config.products))
        return Job(max(ids, default=0), rec.pipeline, rec.asn_path, landed, association=rec.product,
                   options=StageOptions(partial=rec.partial, allowed_roots=roots))

    def _association_ended(self, product: str, state: str, error: str | None = None,
                           check: str | None = None) -> list[Job]:
        rec = self.ledger.end_association(product, state, error=error, check=check)
        if not rec.remake:
            return []
        firing = self.associations.refire(product)
        return self._fire([firing]) if firing is not None else []

    # ------------------------------------------------------------------ restart
    def _resume_file(self, rec: FileRecord) -> list[Job]:
        if is_asn_name(rec.path) and rec.state in ("landed", "routed"):
            return self._asn_landed(rec.id, rec.path, rec.state)
        route = Route(**rec.route) if rec.route and "stage1" in rec.route else None
        if rec.state == "landed" or route is None:
            return self._route_again(rec) if rec.state == "landed" else []
        if rec.state == "routed":
            self.ledger.transition(rec.id, "stage1", stage=route.stage1)
            return [Job(rec.id, route.stage1, rec.path, rec.landed_at, route)]
        if rec.state == "stage1":
            return [Job(rec.id, rec.stage or route.stage1, rec.path, rec.landed_at, route)]
        if rec.state == "stage2":
            products = {p.suffix: p.path for p in self.ledger.products(rec.id)}
            order = ("rateints", "rate") if route.tso else ("rate", "rateints")
            path = next((products[s] for s in order if s in products), rec.path)
            first = Job(rec.id, route.stage1, rec.path, rec.landed_at, route)
            return self._next_stage(first, rec.stage or route.stage2, path, since=rec.updated_at)
        return []  # waiting_association: its membership is in the ledger; stage3: resumed below

    def _route_again(self, rec: FileRecord) -> list[Job]:
        from ..errors import BadInputError

        try:
            route = self._route_file(rec.path)
        except BadInputError as exc:
            self._quarantine(rec.id, rec.path, exc.check, exc.reason)
            return []
        return self._routed(rec.id, rec.path, route, rec.landed_at)

    def _resume_association(self, rec: AssociationRecord) -> list[Job]:
        if rec.state == "stage3":
            return [self._association_job(rec)]
        if rec.remake:
            firing = self.associations.refire(rec.product)
            return self._fire([firing]) if firing is not None else []
        return []

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _isolated(self, path: str, job: Job | None = None):
        """One arrival or outcome in a ledger unit of its own: a failure here (a bug, not bad
        input) undoes only its writes and is kept in :attr:`errors`; an outcome that could not be
        recorded fails its job instead, so that nothing waits for ever."""
        try:
            with self.ledger.unit():
                yield
        except Exception as exc:
            self.errors.append(f"{path}: {type(exc).__name__}: {exc}")
            if job is not None:
                with contextlib.suppress(Exception), self.ledger.unit():
                    self._fail(job, f"internal error recording its outcome: {type(exc).__name__}: {exc}",
                               "internal")

    @contextlib.contextmanager
    def _commit(self):
        """One ledger transaction; files are moved to quarantine only after it committed."""
        try:
            with self.ledger.batch():
                yield
        finally:
            moves, self._moves = self._moves, []
        for move in moves:
            self._quarantine_file(move.path, move.check, move.reason)

    def _hand_out(self, jobs: list[Job]) -> list[Job]:
        """Jobs the shell may queue: new content of a name still in work is held back."""
        out = []
        jobs, self._later = self._later + jobs, []
        for job in jobs:
            if self._predecessor_busy(job):
                self.held.append(job)
                continue
            self._track(job)
            out.append(job)
        return out

    @staticmethod
    def _root(job: Job) -> str | None:
        return None if job.association else exposure_root(Path(job.path).name)

    def _track(self, job: Job) -> None:
        self.work[job.key] = job
        if (root := self._root(job)) is not None:
            self._roots.setdefault(root, set()).add(job.file_id)

    def _untrack(self, job: Job) -> None:
        """Forget a job that ended (an exposure has one job in work at a time)."""
        self.work.pop(job.key, None)
        root = self._root(job)
        ids = self._roots.get(root, set())
        ids.discard(job.file_id)
        if not ids:
            self._roots.pop(root, None)

    def _predecessor_busy(self, job: Job) -> bool:
        root = self._root(job)
        return root is not None and bool(self._roots.get(root, set()) - {job.file_id})

    def _release_held(self) -> list[Job]:
        held, self.held = self.held, []
        return held
