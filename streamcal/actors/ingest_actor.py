"""The ingest actor: watches the landing directory (inotify or polling), sweeps it periodically,
and hands on candidates that are complete (with their content hash) or bad (with the reason).

Deduplication by content is the ledger's (durable); the actor only remembers, in memory, which
paths it already handed on, so a restarted actor re-sends what it finds and the ledger drops
the repeats.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import ray

from ..ingest import LandingWatcher, PendingFiles, Status, content_sha256, sweep


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
        self.pending = PendingFiles(landing, stable_seconds=stability_seconds, timeout=incomplete_timeout,
                                    clock=clock)
        self.known: set[str] = set()      # paths handed on as ok (or recorded in the ledger)
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def notify(self, path) -> None:
        """A path may have landed (thread-safe: called from the watcher's thread)."""
        with self._lock:
            self._seen.add(str(path))

    def check(self, do_sweep: bool = False) -> list[dict]:
        """Inspect everything notified since the last call, recheck the pending files and, with
        ``do_sweep``, the whole landing tree; return the candidates to hand on.

        Returns
        -------
        list of dict
            ``{"kind": "ok", "path", "sha256", "size"}`` or ``{"kind": "bad", "path", "check", "reason"}``.
        """
        with self._lock:
            paths, self._seen = self._seen, set()
        if do_sweep:
            paths |= {str(p) for p in sweep(self.landing)}
        released = [self.pending.submit(p) for p in sorted(paths - self.known)]
        released += self.pending.recheck()
        out = []
        for ins in filter(None, released):
            path = str(ins.path)
            if ins.status is Status.BAD:
                self.pending.forget(path)  # it is moved away; a new file of that name is new
                out.append({"kind": "bad", "path": path, "check": ins.check, "reason": ins.reason})
                continue
            try:
                sha = content_sha256(path)
            except FileNotFoundError:
                continue
            self.known.add(path)
            out.append({"kind": "ok", "path": path, "sha256": sha, "size": ins.size})
        return out


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

    def set_known(self, paths: list[str]) -> int:
        """Paths the ledger already has (skipped by sweeps)."""
        self.core.known.update(paths)
        return len(self.core.known)

    def poll(self, do_sweep: bool = False) -> dict:
        """``{"candidates": [...], "pending": n}``; see :meth:`Candidates.check`."""
        out = self.core.check(do_sweep or not self._swept)
        self._swept = True
        return {"candidates": out, "pending": len(self.core.pending)}

    def close(self) -> None:
        self.watcher.stop()
