"""The event log mirrors the ledger: every event a commit made durable becomes one log line.

The ledger names a transition by the state it enters; the log names what happened
(:data:`LOG_EVENTS`).  An event the mapping does not know raises — a new kind of ledger event
never goes silently missing from the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

__all__ = ["LOG_EVENTS", "LogEvent", "log_event"]

#: Ledger event (or entered state) -> event-log name.
LOG_EVENTS: dict[str, str] = {
    "landed": "landed", "duplicate": "duplicate", "superseded": "superseded", "routed": "routed",
    "stage1": "queued", "stage2": "queued", "stage3": "queued", "waiting_association": "waiting",
    "started": "started", "finished": "finished", "product": "product", "retried": "retried",
    "resumed": "resumed", "held": "held", "fired": "fired", "done": "done", "failed": "failed",
    "quarantined": "quarantined", "association_done": "done", "association_failed": "failed",
}


@dataclass(frozen=True)
class LogEvent:
    """One event-log line: event name, file (or association product), stage, detail, time."""

    event: str
    file: str | None
    stage: str | None
    detail: dict[str, Any]
    seconds: float


def log_event(row: dict) -> LogEvent:
    """The log line of a ledger event row (as :class:`~streamcal.ledger.Ledger`'s listener gets it).

    Raises
    ------
    KeyError
        The ledger event has no log name.
    """
    try:
        event = LOG_EVENTS[row["event"]]
    except KeyError:
        raise KeyError(f"ledger event {row['event']!r} has no event-log name; add it to LOG_EVENTS") from None
    detail = dict(row.get("detail") or {})
    name = row.get("name") or detail.get("association")
    if name is None and detail.get("path"):
        name = PurePath(detail["path"]).name
    stage = detail.pop("stage", None)
    detail = {k: v for k, v in detail.items() if v is not None}
    if row.get("file_id") is not None:
        detail["file_id"] = row["file_id"]
    return LogEvent(event, name, stage, detail, row["time"])
