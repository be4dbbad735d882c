"""Fuzz harness: hostile files through every entry point, in bounded worker processes.

Each case (a file made by :mod:`streamcal.boundary.mutate`) goes through what the stream does
with a landed file -- the ingest check (:func:`streamcal.ingest.inspect`), the header read and
routing, the raw read -- and, for some cases, ``calwebb_detector1`` into an output directory.
The only outcomes allowed are success or streamcal's own refusals
(:class:`~streamcal.errors.BadInputError`, :class:`~streamcal.errors.NotImplementedStepError`).
Anything else is counted against the boundary:

- **escaped**: another exception came out (its type and the innermost streamcal frame are kept);
- **hung**: the case took longer than the timeout (the worker is killed and replaced);
- **crashed**: the worker died (a signal from a C library, say);
- **over budget**: a ``MemoryError`` under the worker's private-memory limit
  (:func:`streamcal.memory.limit_private_memory`): something allocated by a hostile count;
- **partial**: a failed calibration left a file in its output directory.

Workers are fresh interpreters (``python -c``) speaking JSON lines over pipes; each handles
cases one after the other.  ``python -m streamcal.boundary.fuzz --cases N`` runs a campaign and
prints the summary (``benchmarks/bench_fuzz.py`` is the benchmark front end).
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from .mutate import Case, Seed, make_case, seed_from_bytes

__all__ = ["CaseResult", "FuzzSummary", "FuzzPool", "make_seeds", "prepare_refs", "run_campaign", "serve"]

#: Stages every case goes through, in order; ``detector1`` only for the cases chosen for it.
STAGES = ("inspect", "header", "raw", "detector1")
#: Outcomes that are fine: success, an ingest verdict, or streamcal's own refusal.
ALLOWED = frozenset({"ok", "bad", "incomplete", "gone", "not_implemented"})


@dataclass(frozen=True)
class CaseResult:
    """What one case did.

    Attributes
    ----------
    case : int
    kind, detail, name : str
        How the file was made (see :class:`~streamcal.boundary.mutate.Case`).
    outcomes : tuple of (str, str)
        ``(stage, outcome)``: ``ok``, ``bad``, ``incomplete``, ``not_implemented``,
        ``over_budget`` or ``escaped``.
    escapes : tuple of str
        ``"stage: Type at file:line: message"`` of every escaped exception.
    hung, crashed : bool
        The case exceeded the timeout / the worker died.
    leftovers : tuple of str
        Files a failed calibration left in its output directory.
    seconds : float
        Wall time of the case in the worker, s.
    peak_mb : float
        The worker's peak resident memory so far (VmHWM), MB.
    """

    case: int
    kind: str
    detail: str
    name: str
    outcomes: tuple[tuple[str, str], ...] = ()
    escapes: tuple[str, ...] = ()
    hung: bool = False
    crashed: bool = False
    leftovers: tuple[str, ...] = ()
    seconds: float = 0.0
    peak_mb: float = 0.0

    @property
    def over_budget(self) -> bool:
        return any(outcome == "over_budget" for _, outcome in self.outcomes)

    @property
    def clean(self) -> bool:
        """Nothing but allowed outcomes, no hang, no crash, nothing left behind."""
        return (not self.hung and not self.crashed and not self.leftovers
                and all(outcome in ALLOWED for _, outcome in self.outcomes))


@dataclass(frozen=True)
class FuzzSummary:
    """Counts over a campaign.

    Attributes
    ----------
    cases : int
    escaped, hung, crashed, over_budget, partial : int
        Cases with at least one escaped exception / timed out / killed the worker /
        ran out of the memory limit / left a partial product.
    detector1 : int
        Cases that went through ``calwebb_detector1``.
    by_kind : dict of str to (int, int)
        Per mutation kind: (cases, cases not clean).
    signatures : dict of str to list of int
        Each distinct escape (``stage: Type at file:line``) and the first cases showing it.
    seconds : float
        Wall time of the campaign, s.
    peak_mb : float
        Largest peak resident memory of any worker, MB.
    """

    cases: int
    escaped: int
    hung: int
    crashed: int
    over_budget: int
    partial: int
    detector1: int
    by_kind: dict[str, tuple[int, int]] = field(default_factory=dict)
    signatures: dict[str, list[int]] = field(default_factory=dict)
    seconds: float = 0.0
    peak_mb: float = 0.0

    @classmethod
    def of(cls, results: list[CaseResult], seconds: float = 0.0) -> FuzzSummary:
        kinds: dict[str, list[int]] = {}
        signatures: dict[str, list[int]] = {}
        for r in results:
            tally = kinds.setdefault(r.kind, [0, 0])
            tally[0] += 1
            tally[1] += 0 if r.clean else 1
            for escape in r.escapes:
                sig = escape.split(": ", 2)
                key = ": ".join(sig[:2])
                signatures.setdefault(key, []).append(r.case)
        return cls(cases=len(results), escaped=sum(bool(r.escapes) for r in results),
                   hung=sum(r.hung for r in results), crashed=sum(r.crashed for r in results),
                   over_budget=sum(r.over_budget for r in results), partial=sum(bool(r.leftovers) for r in results),
                   detector1=sum(any(s == "detector1" for s, _ in r.outcomes) for r in results),
                   by_kind={k: (v[0], v[1]) for k, v in sorted(kinds.items())},
                   signatures={k: v[:5] for k, v in sorted(signatures.items(), key=lambda kv: -len(kv[1]))},
                   seconds=seconds, peak_mb=max((r.peak_mb for r in results), default=0.0))

    def text(self) -> str:
        """The summary as a few lines for people."""
        lines = [f"cases {self.cases} (detector1 {self.detector1}) in {self.seconds:.1f} s: "
                 f"escaped {self.escaped}, hung {self.hung}, crashed {self.crashed}, "
                 f"over budget {self.over_budget}, partial products {self.partial}; "
                 f"largest worker peak {self.peak_mb:.0f} MB",
                 "per kind (cases / not clean): " + ", ".join(f"{k} {n}/{bad}" for k, (n, bad) in self.by_kind.items())]
        lines += [f"  {len(v):4d}x {k}  (cases {v})" for k, v in self.signatures.items()]
        return "\n".join(lines)


# ------------------------------------------------------------------------------- the worker

def _where(exc: BaseException) -> str:
    """Innermost frame inside streamcal (else the innermost frame) of an exception."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/streamcal/" in f.filename and "/boundary/fuzz" not in f.filename]
    frame = (ours or frames or [None])[-1]
    return "?" if frame is None else f"{Path(frame.filename).name}:{frame.lineno}"


def _attempt(stage: str, call) -> tuple[str, str | None]:
    """Run one stage; ``(outcome, escape description or None)``."""
    from ..errors import BadInputError, NotImplementedStepError

    try:
        return call() or "ok", None
    except BadInputError:
        return "bad", None
    except NotImplementedStepError:
        return "not_implemented", None
    except MemoryError as exc:
        return "over_budget", f"{stage}: MemoryError at {_where(exc)}: {str(exc)[:120]}"
    except Exception as exc:
        return "escaped", f"{stage}: {type(exc).__name__} at {_where(exc)}: {str(exc)[:160]}"


def _read_raw(path: str, budget: int):
    import inspect as pyinspect

    from ..fitsio import read_raw

    if "budget" in pyinspect.signature(read_raw).parameters:
        read_raw(path, budget=budget)
    else:  # the reader before it took a budget (for measuring the state before the boundary)
        read_raw(path)


def _route(path: str) -> None:
    from .. import router
    from ..errors import BadInputError
    from ..fitsio import read_header

    header = read_header(path)
    try:
        router.route(header)
    except KeyError as exc:  # the router's documented refusal: unknown or missing EXP_TYPE
        raise BadInputError(path, "exp_type", str(exc)) from None


def _inspect(path: str, landing: str) -> str:
    from ..ingest import inspect

    return inspect(path, landing, stable_seconds=0.0).status.value


def _calibrate(path: str, out: str, refs) -> None:
    from ..pipelines import CalibrationOptions, calibrate_file

    calibrate_file(path, out, refs, CalibrationOptions())


def run_case(request: dict, refs) -> dict:
    """Every stage of one case (the worker's side); never raises."""
    path, start = request["path"], time.perf_counter()
    calls = {"inspect": lambda: _inspect(path, request["landing"]),
             "header": lambda: _route(path),
             "raw": lambda: _read_raw(path, request["budget"])}
    if request.get("detector1"):
        calls["detector1"] = lambda: _calibrate(path, request["out"], refs)
    outcomes, escapes = [], []
    for stage, call in calls.items():
        outcome, escape = _attempt(stage, call)
        outcomes.append([stage, outcome])
        if escape:
            escapes.append(escape)
    return {"outcomes": outcomes, "escapes": escapes, "seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM), MB; 0 where /proc is absent."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def serve() -> None:
    """Worker main loop: one JSON request per line on stdin, one JSON result per line out.

    ``sys.argv[1]`` is the private-memory limit in bytes, ``sys.argv[2]`` the reference cache.
    Results go to the original stdout; anything a library prints goes to stderr instead."""
    from .. import memory

    out = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # C libraries printing to fd 1 must not corrupt the result stream
    memory.limit_private_memory(int(sys.argv[1]))
    from ..refs import ReferenceSet

    refs = ReferenceSet(cache_dir=sys.argv[2])
    out.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        out.write(json.dumps(run_case(json.loads(line), refs)) + "\n")


# ------------------------------------------------------------------------------- the pool

class _Worker:
    def __init__(self, limit: int, refs_dir: Path, log: Path):
        env = {**os.environ, "STREAMCAL_REFS_POOL": ""}  # junk windows never reach the shared pool
        self.log = open(log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-c", "from streamcal.boundary.fuzz import serve; serve()",
                                      str(limit), str(refs_dir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env)
        self.buffer = b""
        self.ready = False
        self.case: Case | None = None
        self.request: dict | None = None
        self.deadline = 0.0

    def send(self, case: Case, request: dict, timeout: float) -> None:
        self.case, self.request, self.deadline = case, request, time.monotonic() + timeout
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()

    def lines(self) -> list[dict]:
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            raise EOFError
        self.buffer += chunk
        *done, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in done if line.strip()]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.log):
            stream.close()


class FuzzPool:
    """Worker processes with a private-memory limit and a per-case timeout.

    Parameters
    ----------
    workdir : Path
        Scratch space: case files, output directories, worker logs, the reference cache.
    workers : int
        Worker processes.
    limit_bytes : int
        Private-memory limit of each worker (``RLIMIT_DATA``), bytes.
    budget_bytes : int
        Memory budget handed to the readers, bytes (smaller than the limit: reads must refuse
        before the limit is reached).
    timeout : float
        Seconds a case may take (worker start-up excluded).
    """

    def __init__(self, workdir: Path, *, workers: int = 2, limit_bytes: int = 3 << 30,
                 budget_bytes: int = 1 << 30, timeout: float = 20.0):
        self.workdir = Path(workdir)
        self.refs_dir = self.workdir / "refs"
        self.workers, self.limit, self.budget, self.timeout = workers, limit_bytes, budget_bytes, timeout
        self.started = 0

    def _spawn(self) -> _Worker:
        self.started += 1
        return _Worker(self.limit, self.refs_dir, self.workdir / f"worker{self.started}.log")

    def _request(self, case: Case, detector1: bool) -> dict:
        landing = self.workdir / "landing" / str(case.number)
        landing.mkdir(parents=True, exist_ok=True)
        out = self.workdir / "out" / str(case.number)
        out.mkdir(parents=True, exist_ok=True)
        path = landing / case.name
        path.write_bytes(case.data)
        return {"path": str(path), "landing": str(landing), "out": str(out), "detector1": detector1,
                "budget": self.budget}

    def _finish(self, worker: _Worker, reply: dict | None, *, hung: bool = False) -> CaseResult:
        case, request = worker.case, worker.request
        outcomes = tuple((s, o) for s, o in (reply or {}).get("outcomes", ()))
        result = CaseResult(case=case.number, kind=case.kind, detail=case.detail, name=case.name,
                            outcomes=outcomes, escapes=tuple((reply or {}).get("escapes", ())),
                            hung=hung, crashed=reply is None and not hung,
                            leftovers=_leftovers(Path(request["out"]), outcomes),
                            seconds=(reply or {}).get("seconds", 0.0), peak_mb=(reply or {}).get("peak_mb", 0.0))
        shutil.rmtree(Path(request["landing"]), ignore_errors=True)
        shutil.rmtree(Path(request["out"]), ignore_errors=True)
        worker.case = worker.request = None
        return result

    def run(self, cases: Iterable[tuple[Case, bool]]) -> Iterator[CaseResult]:
        """Run ``(case, through detector1?)`` pairs; yields one result per case (any order)."""
        todo = iter(cases)
        sel = selectors.DefaultSelector()
        pool = [self._spawn() for _ in range(self.workers)]
        for w in pool:
            sel.register(w.proc.stdout, selectors.EVENT_READ, w)
        exhausted = False
        try:
            while True:
                for w in pool:
                    if w.ready and w.case is None and not exhausted:
                        nxt = next(todo, None)
                        if nxt is None:
                            exhausted = True
                        else:
                            w.send(nxt[0], self._request(*nxt), self.timeout)
                busy = [w for w in pool if w.case is not None or not w.ready]
                if exhausted and not any(w.case is not None for w in pool):
                    return
                now = time.monotonic()
                wait = min((w.deadline - now for w in busy if w.case is not None), default=60.0)
                for key, _ in sel.select(timeout=max(0.0, wait)):
                    yield from self._read(key.data, pool, sel)
                for w in list(pool):
                    if w.case is not None and time.monotonic() > w.deadline:
                        yield self._replace(w, pool, sel, hung=True)
        finally:
            for w in pool:
                w.kill()

    def _read(self, w: _Worker, pool: list[_Worker], sel) -> Iterator[CaseResult]:
        try:
            replies = w.lines()
        except EOFError:
            if w.case is not None:
                yield self._replace(w, pool, sel, hung=False)
            else:
                raise RuntimeError(f"fuzz worker failed to start; see {self.workdir}") from None
            return
        for reply in replies:
            if reply.get("ready"):
                w.ready = True
            else:
                yield self._finish(w, reply)

    def _replace(self, w: _Worker, pool: list[_Worker], sel, *, hung: bool) -> CaseResult:
        sel.unregister(w.proc.stdout)
        w.kill()
        result = self._finish(w, None, hung=hung)
        fresh = self._spawn()
        pool[pool.index(w)] = fresh
        sel.register(fresh.proc.stdout, selectors.EVENT_READ, fresh)
        return result


def _leftovers(out: Path, outcomes: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """Files in a calibration's output directory that should not be there: any at all when it
    failed or never finished; hidden temporaries when it succeeded."""
    if not out.is_dir():
        return ()
    names = sorted(p.name for p in out.iterdir())
    succeeded = ("detector1", "ok") in outcomes
    return tuple(n for n in names if not succeeded or n.startswith("."))


# ------------------------------------------------------------------------------- campaigns

def make_seeds(directory: Path, refs=None) -> list[Seed]:
    """Valid small exposures to mutate: NIRCam SUB64P (2 integrations of 3 groups) and MIRI
    SUB64 (4 groups), simulated into ``directory``."""
    from ..sim import simulate_to_directory

    specs = (dict(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P", ngroups=3, nints=2),
             dict(detector="MIRIMAGE", exp_type="MIR_IMAGE", subarray="SUB64", ngroups=4))
    seeds = []
    for k, spec in enumerate(specs):
        for path in simulate_to_directory(Path(directory) / f"seed{k}", refs=refs, seed=k, **spec):
            seeds.append(seed_from_bytes(path.name, path.read_bytes()))
    return seeds


def prepare_refs(refs_dir: Path, source: Path | None = None) -> Path:
    """A private reference cache for the workers: the files of ``source`` (default: the
    synthetic set's cache) linked in, so workers need not generate them, while files made for
    hostile windows stay in ``refs_dir``."""
    from ..refs import default_cache_dir

    source = Path(source) if source else default_cache_dir()
    refs_dir.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir() if source.is_dir() else ():
        target = refs_dir / path.name
        if path.is_file() and not path.name.startswith(".") and path.suffix != ".json" and not target.exists():
            try:
                os.link(path, target)
            except OSError:
                target.symlink_to(path)
    return refs_dir


def run_campaign(workdir: Path, *, cases: int, run_seed: int = 0, detector1_every: int = 30, first: int = 0,
                 workers: int = 2, timeout: float = 20.0, limit_bytes: int = 3 << 30,
                 budget_bytes: int = 1 << 30, kinds: tuple[str, ...] | None = None,
                 seeds: list[Seed] | None = None) -> tuple[FuzzSummary, list[CaseResult]]:
    """Make and run ``cases`` cases (numbers ``first`` ..), every ``detector1_every``-th through
    ``calwebb_detector1``; returns the summary and every result in case order."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    seeds = seeds or make_seeds(workdir / "seeds")
    prepare_refs(workdir / "refs")
    pool = FuzzPool(workdir, workers=workers, limit_bytes=limit_bytes, budget_bytes=budget_bytes, timeout=timeout)

    def plan():
        for n in range(first, first + cases):
            kind = kinds[n % len(kinds)] if kinds else None
            yield make_case(seeds, run_seed, n, kind), detector1_every > 0 and n % detector1_every == 0

    start = time.perf_counter()
    results = sorted(pool.run(plan()), key=lambda r: r.case)
    return FuzzSummary.of(results, time.perf_counter() - start), results


def main(argv: list[str] | None = None) -> int:
    import argparse
    import tempfile

    p = argparse.ArgumentParser(description="Fuzz streamcal's input boundary with mutated FITS files.")
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--first", type=int, default=0, help="first case number (reproduce one case: --first N --cases 1)")
    p.add_argument("--detector1-every", type=int, default=30)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--limit-gb", type=float, default=3.0)
    p.add_argument("--json", help="write every case's result here")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="streamcal-fuzz-") as tmp:
        summary, results = run_campaign(Path(tmp), cases=args.cases, run_seed=args.seed, first=args.first,
                                        detector1_every=args.detector1_every, workers=args.workers,
                                        timeout=args.timeout, limit_bytes=int(args.limit_gb * 2**30))
    print(summary.text())
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=1, default=str))
    return 0 if all(r.clean for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
