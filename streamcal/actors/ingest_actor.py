"""The ingest actor: watches the landing directory (inotify or polling), sweeps it periodically,
and hands on candidates that are complete (with their content hash) or bad (with the reason).

Deduplication by content is the ledger's (durable); the actor only remembers, in memory, which
paths it already handed on and in what state (inode, size, mtime, ctime), so a restarted actor
re-sends what it finds and the ledger drops the repeats.  A handed-on path whose file changes
(new content renamed over it, rewritten in place) is inspected again: the ledger decides by
content whether it is new.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import ray

from ..errors import BadInputError
from ..flow import Arrival, ArrivalKind, is_asn_name
from ..ingest import LandingWatcher, PendingFiles, Status, content_sha256, inspect, inspect_asn, sweep
from ..router import route_landed


class Candidates:
    """The Ray-free core of the ingest actor: events and sweeps in, complete or bad candidates out
    (incomplete ones wait in :class:`~streamcal.ingest.PendingFiles`).

    Parameters
    ----------
    landing : str or Path
        The landing directory.
    stability_seconds : float
        Passed to :func:`streamcal.ingest.check.inspect`.
    incomplete_timeout : float
        A file incomplete for longer than this is handed on as bad (``"incomplete"``).
    clock : callable
        Seconds since the epoch (injectable).
    """

    def __init__(self, landing, *, stability_seconds: float = 2.0, incomplete_timeout: float = 600.0,
                 clock=time.time):
        self.landing = Path(landing)
        def check(path, now):  # association files (*_asn.json) have their own completeness test
            test = inspect_asn if is_asn_name(path) else inspect
            return test(path, landing, stable_seconds=stability_seconds, now=now)

        self.pending = PendingFiles(landing, timeout=incomplete_timeout, clock=clock, check=check)
        # path -> the stamp (see :func:`file_stamp`) it had when handed on, or the wall-clock
        # time the ledger recorded it (paths known from an earlier run)
        self.known: dict[str, tuple | float] = {}
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def set_known(self, landed: dict[str, float]) -> None:
        """Paths the ledger already has, with the time each was (last) recorded: skipped unless
        changed since then (modified or renamed over after that time)."""
        for path, when in landed.items():
            self.known.setdefault(path, when)

    def _unchanged(self, path: str) -> bool:
        """True if ``path`` is known and still holds what was handed on."""
        known = self.known.get(path)
        if known is None:
            return False
        stamp = file_stamp(path)
        if stamp is None:
            return True  # gone (or unreadable): nothing to hand on
        if isinstance(known, tuple):
            same = stamp == known
        else:  # recorded by an earlier run: changed only if touched after the recording
            same = max(stamp[2], stamp[3]) <= known * 1e9
        if not same:  # new bytes under a known name: let PendingFiles release it again
            self.pending.forget(path)
        return same

    def notify(self, path) -> None:
        """A path may have landed (thread-safe: called from the watcher's thread)."""
        with self._lock:
            self._seen.add(str(path))

    def check(self, do_sweep: bool = False) -> list[Arrival]:
        """Inspect everything notified since the last call, recheck the pending files and, with
        ``do_sweep``, the whole landing tree; return the candidates to hand on.

        Returns
        -------
        list of Arrival
            Exposures (routed here, where the header has just been read, which keeps the header
            parse off the driver's loop; ``route`` None with ``check``/``reason`` when it cannot
            be routed), association files, and bad files with the reason.
        """
        with self._lock:
            paths, self._seen = self._seen, set()
        if do_sweep:
            paths |= {str(p) for p in sweep(self.landing)}
        released = [self.pending.submit(p) for p in sorted(paths) if not self._unchanged(p)]
        released += self.pending.recheck()
        out = []
        for ins in filter(None, released):
            path = str(ins.path)
            if ins.status is Status.BAD:
                self.pending.forget(path)  # it is moved away; a new file of that name is new
                out.append(Arrival(ArrivalKind.BAD, path, check=ins.check, reason=ins.reason))
                continue
            stamp = file_stamp(path)
            try:
                sha = content_sha256(path)
            except FileNotFoundError:
                continue
            if stamp is None or file_stamp(path) != stamp:
                continue  # replaced while hashing: the new file is seen again (event or sweep)
            self.known[path] = stamp
            if is_asn_name(path):
                out.append(Arrival(ArrivalKind.ASSOCIATION, path, sha, ins.size))
            else:
                out.append(_routed(path, sha, ins.size))
        return out


def _routed(path: str, sha: str, size: int) -> Arrival:
    try:
        return Arrival(ArrivalKind.EXPOSURE, path, sha, size, route=route_landed(path))
    except BadInputError as exc:
        return Arrival(ArrivalKind.EXPOSURE, path, sha, size, check=exc.check, reason=exc.reason)


def file_stamp(path: str) -> tuple[int, int, int, int] | None:
    """``(inode, size, mtime_ns, ctime_ns)`` of a path (not following symlinks), or None if gone.

    A rename over the path changes the inode and ctime, a rewrite the size/mtime/ctime: any
    landing of new bytes under the same name changes the stamp."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


@ray.remote
class IngestActor:
    """Wraps :class:`~streamcal.ingest.watcher.LandingWatcher` + :func:`sweep` + :class:`Candidates`.

    The driver calls :meth:`poll`; the first call always sweeps (files present at start)."""

    def __init__(self, landing: str, ingest_config: dict):
        cfg = ingest_config
        self.core = Candidates(landing, stability_seconds=cfg["stability_seconds"],
                               incomplete_timeout=cfg["incomplete_timeout"])
        self.watcher = LandingWatcher(landing, self.core.notify, polling=cfg["polling"],
                                      poll_interval=cfg["poll_interval"]).start()
        self._swept = False

    def set_known(self, landed: dict[str, float]) -> int:
        """Paths the ledger already has, with when each was recorded (skipped by sweeps unless
        changed since)."""
        self.core.set_known(landed)
        return len(self.core.known)

    def poll(self, do_sweep: bool = False) -> tuple[list[Arrival], int]:
        """The arrivals (see :meth:`Candidates.check`) and how many files are still incomplete."""
        out = self.core.check(do_sweep or not self._swept)
        self._swept = True
        return out, len(self.core.pending)

    def close(self) -> None:
        self.watcher.stop()
