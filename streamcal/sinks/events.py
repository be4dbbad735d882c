"""The event log: one JSON object per line, appended and flushed per event."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["EVENTS", "EventLog", "read_events"]

#: Event names the service writes (a typo raises instead of writing a silent new kind).
EVENTS = frozenset({"landed", "duplicate", "superseded", "routed", "queued", "held", "started", "finished",
                    "retried", "waiting", "fired", "product", "resumed", "failed", "quarantined", "done"})


def iso_utc(seconds: float) -> str:
    """ISO 8601 UTC with milliseconds, e.g. ``2026-11-23T22:57:00.123Z``."""
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


class EventLog:
    """Append-only JSON-lines log of the stream's events.

    Each line is ``{"time": ISO-UTC, "seconds": epoch seconds, "event", "file", "stage",
    "detail"}``, written with one ``write(2)`` on a file opened ``O_APPEND``, so lines from
    several writers never interleave and a crash leaves at most a partial *last* line, which
    :func:`read_events` skips.

    Delivery: at-least-once across crashes for events the service replays (a resumed exposure
    logs ``started`` again), at-most-once for an event whose process dies before the write.
    The ledger's ``events`` table is the authoritative history; this log is for people and tools.

    Parameters
    ----------
    path : str or Path
        The log file; created with its directory, appended to if present.
    clock : callable, optional
        Seconds since the epoch (``time.time``).
    fsync : bool
        Also fsync after each line (off by default: the ledger carries durability).
    """

    def __init__(self, path: str | os.PathLike, *, clock: Callable[[], float] = time.time,
                 fsync: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._fsync = fsync
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, event: str, *, file: str | None = None, stage: str | None = None,
              detail: Mapping[str, Any] | None = None, when: float | None = None) -> dict:
        """Append one event and return the record written.

        Raises
        ------
        ValueError
            ``event`` is not one of :data:`EVENTS`.
        """
        if event not in EVENTS:
            raise ValueError(f"unknown event {event!r}; events are {', '.join(sorted(EVENTS))}")
        seconds = self._clock() if when is None else float(when)
        record = {"time": iso_utc(seconds), "seconds": round(seconds, 6), "event": event,
                  "file": None if file is None else str(file), "stage": stage,
                  "detail": dict(detail or {})}
        data = (json.dumps(record, default=str) + "\n").encode()
        written = os.write(self._fd, data)
        if written != len(data):  # only on a full disk or a signal mid-write
            raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")
        if self._fsync:
            os.fsync(self._fd)
        return record

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_events(path: str | os.PathLike) -> Iterator[dict]:
    """The events of a log, oldest first; a torn last line (crash mid-write) is skipped."""
    with open(path, "rb") as fh:
        for line in fh:
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                if line.endswith(b"\n"):
                    raise ValueError(f"{path}: corrupt event line {line[:80]!r}") from None
