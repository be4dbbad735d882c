"""Files seen before they were complete: recheck them until each is released exactly once."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from .check import MAX_BYTES, Inspection, Status, inspect

__all__ = ["PendingFiles"]


@dataclass
class _Entry:
    first_seen: float
    last: Inspection


class PendingFiles:
    """Tracks incomplete candidates and releases each once, when ok or bad.

    Typical use in the ingest loop: ``submit(path)`` every candidate (events, sweeps); act on a
    non-None result; call :meth:`recheck` every poll interval and act on what it returns.

    Guarantees (within one process): a path is released at most once per content state — a
    submit of a path already released with the same ``(size, mtime)`` returns None — and
    nothing waits forever: a file still incomplete ``timeout`` seconds after it was first seen
    is released as bad (``check="incomplete"``, ``"incomplete for N s: truncated?"``). Files
    that vanish while pending are dropped. Across restarts the ledger deduplicates.

    Thread-safe (one internal lock), though meant for one consumer thread.

    Parameters
    ----------
    landing : path-like
    stable_seconds, settle_seconds, max_bytes
        Passed to :func:`~streamcal.ingest.check.inspect`.
    timeout : float
        Longest a file may stay incomplete, in seconds.
    clock : callable() -> float
        Seconds since the epoch (default ``time.time``); inject a fake one in tests. It also
        dates files (compared with their mtime), so it must be wall-clock based.
    check : callable(path, now) -> Inspection, optional
        Replaces ``inspect`` entirely (tests, other checks).
    """

    def __init__(self, landing: str | os.PathLike, *, stable_seconds: float = 2.0,
                 settle_seconds: float = 0.0, max_bytes: int = MAX_BYTES, timeout: float = 600.0,
                 clock: Callable[[], float] = time.time,
                 check: Callable[[Path, float], Inspection] | None = None):
        self.timeout = timeout
        self.clock = clock
        self._check = check or (lambda p, now: inspect(
            p, landing, stable_seconds=stable_seconds, settle_seconds=settle_seconds,
            max_bytes=max_bytes, now=now))
        self._pending: dict[Path, _Entry] = {}
        self._released: dict[Path, tuple[int | None, int | None]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: str | os.PathLike) -> bool:
        return Path(path) in self._pending

    def paths(self) -> list[Path]:
        """The pending paths, oldest first."""
        with self._lock:
            return sorted(self._pending, key=lambda p: self._pending[p].first_seen)

    def forget(self, path: str | os.PathLike) -> None:
        """Drop a path from both the pending set and the released memory (e.g. after quarantine)."""
        with self._lock:
            self._pending.pop(Path(path), None)
            self._released.pop(Path(path), None)

    def _decide(self, path: Path, result: Inspection, now: float) -> Inspection | None:
        """Under the lock: track, release or drop ``path`` given its fresh inspection."""
        if result.status is Status.GONE:
            self._pending.pop(path, None)
            self._released.pop(path, None)
            return None
        if result.status is Status.INCOMPLETE:
            entry = self._pending.setdefault(path, _Entry(now, result))
            entry.last = result
            waited = now - entry.first_seen
            if waited < self.timeout:
                return None
            result = replace(result, status=Status.BAD, check="incomplete",
                             reason=f"incomplete for {waited:.0f} s: truncated? ({result.reason})")
        self._pending.pop(path, None)
        if self._released.get(path) == result.fingerprint:
            return None
        self._released[path] = result.fingerprint
        return result

    def submit(self, path: str | os.PathLike) -> Inspection | None:
        """Inspect a candidate now.

        Returns
        -------
        Inspection or None
            The verdict when ok or bad (released now); None when incomplete (now tracked),
            gone, or already released in this state.
        """
        path = Path(path)
        now = self.clock()
        result = self._check(path, now)
        with self._lock:
            return self._decide(path, result, now)

    def recheck(self) -> list[Inspection]:
        """Inspect every pending path again; return those released (ok or bad), oldest first."""
        released = []
        for path in self.paths():
            now = self.clock()
            result = self._check(path, now)
            with self._lock:
                if path in self._pending:
                    out = self._decide(path, result, now)
                    if out is not None:
                        released.append(out)
        return released
