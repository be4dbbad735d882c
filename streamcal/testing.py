"""Helpers for testing flows built on streamcal (yours or ours): a clock you move by hand, an
event sink that keeps events in a list, a way to kill a process at a chosen moment, the four
ways files land in a landing directory, and an exactly-once check of a products directory.

These are public and stable enough to use in your own tests.  ``__test__ = False`` on each
keeps pytest from collecting them.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["FakeClock", "ListEventSink", "run_until_killed", "land_atomic", "land_chunked",
           "land_renamed_in", "land_rsync_style", "exactly_once_problems", "assert_exactly_once"]


class FakeClock:
    """A clock that stands still until moved: pass it where streamcal takes ``clock=``.

    Parameters
    ----------
    start : float
        Seconds since the epoch to start at (default 2026-01-01T00:00:00Z).

    Examples
    --------
    >>> clock = FakeClock(100.0)
    >>> clock(), clock.advance(2.5), clock()
    (100.0, 102.5, 102.5)
    """

    __test__ = False

    def __init__(self, start: float = 1767225600.0):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError(f"a FakeClock only moves forward; got {seconds} s")
        self.now += float(seconds)
        return self.now


class ListEventSink:
    """An event sink with :class:`streamcal.sinks.EventLog`'s ``write`` signature that appends
    each event (a dict) to ``events``, a list the caller may own.  Delivery: exactly-once
    within the process, nothing survives it."""

    __test__ = False

    def __init__(self, events: list | None = None, *, clock: Callable[[], float] = time.time):
        self.events = [] if events is None else events
        self._clock = clock

    def write(self, event: str, *, file: str | None = None, stage: str | None = None,
              detail: Mapping[str, Any] | None = None, when: float | None = None) -> dict:
        record = {"event": event, "seconds": self._clock() if when is None else float(when),
                  "file": file, "stage": stage, "detail": dict(detail or {})}
        self.events.append(record)
        return record

    def names(self) -> list[str]:
        """The event names in order (handy in asserts)."""
        return [e["event"] for e in self.events]


def run_until_killed(code: str, *, kill_after: Callable[[list[str]], bool],
                     timeout: float = 60.0, env: Mapping[str, str] | None = None) -> list[str]:
    """Run ``python -c code``, read its stdout line by line, and SIGKILL it as soon as
    ``kill_after(lines_so_far)`` is true (a crash at a moment the test chooses).

    Returns
    -------
    list of str
        Every line the process printed (and flushed) before it was killed.

    Raises
    ------
    RuntimeError
        The process ended by itself, or ``timeout`` passed, before ``kill_after`` was true
        (its stderr is in the message).
    """
    proc = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if kill_after(lines):
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=10)
                return lines
        proc.kill()
        _, err = proc.communicate(timeout=10)
        raise RuntimeError(f"process ended (rc={proc.returncode}) before the kill point; "
                           f"printed {len(lines)} lines; stderr: {err[-2000:]}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            stream.close()


# -- the ways a file lands -------------------------------------------------------------------
def land_atomic(src: str | os.PathLike, landing: str | os.PathLike, name: str | None = None) -> Path:
    """Copy ``src`` to a hidden temporary name in ``landing``, then rename it into place."""
    dst = Path(landing) / (name or Path(src).name)
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return dst


def land_chunked(src: str | os.PathLike, landing: str | os.PathLike, name: str | None = None, *,
                 chunks: int = 4, pause: float = 0.2) -> Path:
    """Write ``src`` into ``landing`` under its final name in ``chunks`` pieces, flushing and
    sleeping ``pause`` seconds between them (a slow writer: the file is visible half written)."""
    data = Path(src).read_bytes()
    dst = Path(landing) / (name or Path(src).name)
    step = max(1, -(-len(data) // chunks))
    with open(dst, "wb") as fh:
        for start in range(0, len(data), step):
            fh.write(data[start:start + step])
            fh.flush()
            os.fsync(fh.fileno())
            if start + step < len(data):
                time.sleep(pause)
    return dst


def land_renamed_in(src: str | os.PathLike, landing: str | os.PathLike, staging: str | os.PathLike,
                    name: str | None = None) -> Path:
    """Copy ``src`` into ``staging`` (an unwatched directory on the same filesystem), then
    rename it into ``landing`` (the watcher sees only a *created* or *moved-to* event)."""
    staged = Path(staging) / (name or Path(src).name)
    shutil.copyfile(src, staged)
    dst = Path(landing) / staged.name
    os.rename(staged, dst)
    return dst


def land_rsync_style(src: str | os.PathLike, landing: str | os.PathLike, name: str | None = None) -> Path:
    """What rsync does: write ``.<name>.XXXXXX`` beside the target, then rename it."""
    dst = Path(landing) / (name or Path(src).name)
    tmp = dst.with_name(f".{dst.name}.a1B2c3")
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 16)
    os.rename(tmp, dst)
    return dst


# -- exactly once ------------------------------------------------------------------------------
def exactly_once_problems(products_dir: str | os.PathLike, *, ledger: str = "ledger.sqlite",
                          expect_done: int | None = None) -> list[str]:
    """Check a products directory after a run: nothing lost, nothing twice, nothing half.

    Checks that every ledger file is in a terminal state; that every file ``done`` has at
    least one product and at most one product per suffix; that every product the ledger lists
    exists with the SHA-256 it recorded; that every ``*.fits`` in ``products_dir`` (outside
    ``quarantine/``) is in the ledger; that no hidden temporary file is left; and, when given,
    that exactly ``expect_done`` files are ``done``.

    Returns
    -------
    list of str
        One line per problem; empty when all is well.
    """
    from .provenance import sha256_file

    products = Path(products_dir)
    problems: list[str] = []
    db = sqlite3.connect(f"file:{products / ledger}?mode=ro", uri=True)
    try:
        files = {r[0]: (r[1], r[2]) for r in db.execute("SELECT id, name, state FROM files")}
        rows = db.execute("SELECT file_id, path, suffix, sha256 FROM products").fetchall()
    finally:
        db.close()
    for fid, (name, state) in files.items():
        if state not in ("done", "failed", "quarantined"):
            problems.append(f"{name}: still {state!r} (not terminal)")
    per_file = Counter(fid for fid, *_ in rows)
    per_suffix = Counter((fid, suffix) for fid, _, suffix, _ in rows)
    for fid, (name, state) in files.items():
        if state == "done" and per_file[fid] == 0:
            problems.append(f"{name}: done but has no product")
    for (fid, suffix), n in per_suffix.items():
        if n > 1:
            problems.append(f"{files[fid][0]}: {n} products with suffix {suffix!r}")
    recorded = set()
    for _, path, _, sha in rows:
        recorded.add(Path(path).resolve())
        if not Path(path).is_file():
            problems.append(f"{path}: in the ledger but missing on disk")
        elif sha and sha256_file(path) != sha:
            problems.append(f"{path}: content differs from the ledger's checksum")
    for path in products.rglob("*"):
        rel = path.relative_to(products)
        if rel.parts[0] == "quarantine":
            continue
        if path.name.startswith(".") and path.is_file() and not path.name.startswith(f".{ledger}"):
            problems.append(f"{rel}: hidden temporary file left behind")
        elif path.suffix == ".fits" and path.resolve() not in recorded:
            problems.append(f"{rel}: product on disk but not in the ledger")
    done = sum(state == "done" for _, state in files.values())
    if expect_done is not None and done != expect_done:
        problems.append(f"{done} files done, expected {expect_done}")
    return problems


def assert_exactly_once(products_dir: str | os.PathLike, **kwargs: Any) -> None:
    """Raise AssertionError listing every problem :func:`exactly_once_problems` finds."""
    problems = exactly_once_problems(products_dir, **kwargs)
    if problems:
        raise AssertionError("products are not exactly once:\n  " + "\n  ".join(problems))


class StandInWorker:
    """Runs :class:`~streamcal.flow.Job` s without calibrating: writes small stand-in products with
    the names the pipelines give them, so that a :class:`~streamcal.flow.Flow` can be driven
    through every stage in a test in milliseconds.

    Parameters
    ----------
    products_dir : path
    fail : mapping, optional
        ``{file name: [OutcomeKind, ...]}``: the outcomes of the first runs on that input (then
        success), to test retries, quarantine and failures.
    """

    __test__ = False
    _STAGE3 = {"calwebb_image3": ("i2d", "cat", "segm"), "calwebb_tso3": ("crfints", "phot"),
               "calwebb_coron3": ("psfstack", "crfints", "psfalign", "psfsub", "i2d")}

    def _suffixes(self, job, stage: int) -> tuple[str, ...]:
        """The products a pipeline makes of a job (time series: per-integration products)."""
        tso = bool(job.route and job.route.tso)
        if stage == 3:
            return self._STAGE3.get(job.pipeline, ("i2d",))
        return (("rateints",) if tso else ("rate",)) if stage == 1 else (("calints",) if tso else ("cal",))

    def __init__(self, products_dir: str | os.PathLike, fail: Mapping[str, list] | None = None):
        self.products = Path(products_dir)
        self.products.mkdir(parents=True, exist_ok=True)
        self.fail = {k: list(v) for k, v in (fail or {}).items()}
        self.runs: list = []

    def __call__(self, job):
        from .flow import Outcome, OutcomeKind, ProductFile
        from .registry import entry

        self.runs.append(job)
        planned = self.fail.get(Path(job.path).name)
        if planned:
            kind = planned.pop(0)
            return Outcome(kind, check="stand_in", reason=f"planned {kind.value} outcome")
        root = job.association or Path(job.path).name.rsplit("_", 1)[0]
        products = []
        for suffix in self._suffixes(job, entry(job.pipeline).stage):
            path = self.products / f"{root}_{suffix}{'.ecsv' if suffix in ('cat', 'phot') else '.fits'}"
            path.write_text(f"{job.pipeline} {job.path}\n")
            products.append(ProductFile(str(path), suffix, f"sha-{path.name}-{len(self.runs)}"))
        return Outcome(OutcomeKind.OK, tuple(products), 0.01)


def drive(flow, worker: Callable, jobs: list, clock: "FakeClock", *, max_rounds: int = 1000,
          on_round: Callable[[int], None] | None = None) -> list:
    """Run ``jobs`` through ``flow`` with ``worker`` until nothing is left to do, moving ``clock``
    forward to each backoff and through :meth:`~streamcal.flow.Flow.tick`; returns every outcome
    as ``(job, outcome)``."""
    queue, done = list(jobs), []
    for round_ in range(max_rounds):
        if on_round is not None:
            on_round(round_)
        ready = [j for j in queue if j.ready_at <= clock()]
        if not ready:
            if not queue:
                queue += flow.tick()
                if not queue:
                    return done
                continue
            clock.advance(min(j.ready_at for j in queue) - clock())
            continue
        queue = [j for j in queue if j not in ready]
        results = [(job, worker(job)) for job in flow.start(ready)]
        done += results
        queue += flow.finish(results)
    raise AssertionError(f"the flow did not settle within {max_rounds} rounds")


__all__ += ["StandInWorker", "drive"]
