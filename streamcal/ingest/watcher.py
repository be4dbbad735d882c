"""Noticing files in the landing directory: a watchdog observer for speed, a sweep for certainty.

Events can be lost (inotify queue overflow, a restart, a network filesystem), so the watcher is
only a fast path: :func:`sweep` lists every candidate and is run at start-up and periodically.
Either may report the same path many times; the consumer must be idempotent (the ledger is).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from .names import is_ignored, looks_like_fits_name

__all__ = ["LandingWatcher", "sweep"]

log = logging.getLogger(__name__)


def sweep(landing: str | os.PathLike) -> list[Path]:
    """Every candidate now in the landing directory tree, sorted.

    Candidates are the non-ignored (:func:`~streamcal.ingest.names.is_ignored`) files, symlinks
    and other non-directories, plus directories whose names look like FITS files (so that
    :func:`~streamcal.ingest.check.inspect` reports them); other directories are descended,
    except hidden ones. Symlinked directories are listed, never followed.

    Parameters
    ----------
    landing : path-like

    Returns
    -------
    list of Path
    """
    landing = Path(landing)
    found: list[Path] = []
    for top, dirs, files in os.walk(landing, followlinks=False):
        keep = []
        for d in dirs:
            p = Path(top, d)
            if is_ignored(p, landing):
                continue
            if looks_like_fits_name(d) or p.is_symlink():
                found.append(p)
            else:
                keep.append(d)
        dirs[:] = sorted(keep)
        found.extend(Path(top, f) for f in files if not is_ignored(Path(top, f), landing))
    return sorted(found)


class _Handler(FileSystemEventHandler):
    """Turns watchdog events into candidate paths (runs on the observer thread)."""

    def __init__(self, landing: Path, kinds: frozenset[str], emit: Callable[[Path], None]):
        self.landing = landing
        self.kinds = kinds
        self.emit = emit

    def dispatch(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        if kind not in self.kinds:
            return
        path = Path(os.fsdecode(event.dest_path if kind == "moved" else event.src_path))
        if event.is_directory and not looks_like_fits_name(path):
            return  # files inside a directory moved in arrive as their own created events
        try:
            path.relative_to(self.landing)
        except ValueError:
            return  # moved out of the landing directory
        if is_ignored(path, self.landing):
            return
        try:
            self.emit(path)
        except Exception:  # never let a consumer error kill the observer thread
            log.exception("on_candidate failed for %s", path)


class LandingWatcher:
    """Calls ``on_candidate(path)`` for files that may have landed in the landing directory.

    inotify (default): reacts to close-after-write, to renames (the destination path) and to
    created events, which is all a file renamed in from an unwatched directory produces.
    Polling (network filesystems, where inotify misses other hosts' writes): reacts to created,
    modified and moved, so a file being written is reported at every poll until it stops
    changing. Hidden and temporary names are never reported; the landing tree is watched
    recursively and symlinks are not followed.

    Thread-safety: ``on_candidate`` runs on the observer's thread, one call at a time, and may
    be called several times for one path (and before the file is complete). It must be quick and
    thread-safe, e.g. put the path on a ``queue.Queue`` that the owner drains. Exceptions it
    raises are logged and otherwise ignored.

    Parameters
    ----------
    landing : path-like
        Existing directory to watch.
    on_candidate : callable(Path)
    polling : bool
        Use watchdog's ``PollingObserver`` instead of inotify.
    poll_interval : float
        Seconds between polls (polling), and the observer's queue timeout (bounds ``stop()``).
    """

    def __init__(self, landing: str | os.PathLike, on_candidate: Callable[[Path], None], *,
                 polling: bool = False, poll_interval: float = 1.0):
        self.landing = Path(landing)
        if not self.landing.is_dir():
            raise NotADirectoryError(f"landing directory {self.landing} does not exist")
        self.polling = polling
        self.poll_interval = poll_interval
        kinds = ("created", "modified", "moved") if polling else ("created", "closed", "moved")
        self._handler = _Handler(self.landing, frozenset(kinds), on_candidate)
        self._observer = None

    @property
    def running(self) -> bool:
        """Whether the observer thread is alive."""
        return self._observer is not None and self._observer.is_alive()

    def start(self) -> LandingWatcher:
        """Start watching (idempotent). Files already present are *not* reported: use :func:`sweep`."""
        if self._observer is None:
            cls = PollingObserver if self.polling else Observer
            obs = cls(timeout=min(self.poll_interval, 1.0))
            obs.schedule(self._handler, str(self.landing), recursive=True)
            obs.daemon = True
            obs.start()
            self._observer = obs
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching and wait up to ``timeout`` s for the observer thread (idempotent)."""
        obs, self._observer = self._observer, None
        if obs is not None:
            obs.stop()
            obs.join(timeout)

    def __enter__(self) -> LandingWatcher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
