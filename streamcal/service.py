"""The Ray-free side of the service: ``streamcal status`` reads the ledger of a products directory
(SQLite WAL: readers never block the writer).  The service itself is :mod:`streamcal.actors.service`."""

from __future__ import annotations

import time
from pathlib import Path

from .ledger import STATES, Ledger

LEDGER_NAME = "ledger.sqlite"
_COLUMNS = ("queued", "in_flight", "done", "failed", "quarantined")


def read_status(products: str | Path, recent: int = 10) -> dict:
    """The ledger summary of ``products/ledger.sqlite`` plus per-stage columns.

    Returns
    -------
    dict
        :meth:`streamcal.ledger.Ledger.summary` with ``per_stage``: ``{stage: {queued,
        in_flight, done, failed, quarantined}}``.  ``queued`` and ``in_flight`` are both read
        from the ledger's non-terminal states: files that have started an attempt in their
        current stage count as in flight, the others as queued.

    Raises
    ------
    FileNotFoundError
        No ledger in ``products``.
    """
    path = Path(products) / LEDGER_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no ledger at {path}: has `streamcal run` used this products directory?")
    ledger = Ledger(path, synchronous="NORMAL")
    try:
        summary = ledger.summary(recent)
        per: dict[str, dict[str, int]] = {}
        for rec in ledger.in_flight():
            row = per.setdefault(rec.stage or "-", dict.fromkeys(_COLUMNS, 0))
            row["in_flight" if rec.attempts > 0 else "queued"] += 1
        for stage, states in summary["stages"].items():
            row = per.setdefault(stage, dict.fromkeys(_COLUMNS, 0))
            for state in ("done", "failed", "quarantined"):
                row[state] += states.get(state, 0)
        summary["per_stage"] = per
        summary["candidates"] = _candidates(ledger)
        return summary
    finally:
        ledger.close()


def _candidates(ledger: Ledger) -> dict:
    """The association buffer's counts (members held, candidates waiting / fired partial / complete,
    the oldest waiting candidate's age in seconds)."""
    from dataclasses import asdict

    from .associations import AssociationStore

    counts = asdict(AssociationStore(ledger).summary())
    since = counts.pop("oldest_waiting_since")
    counts["oldest_waiting_s"] = None if since is None else max(0.0, time.time() - since)
    return counts


def format_status(summary: dict) -> str:
    """Plain-text rendering of :func:`read_status`."""
    width = max([len(s) for s in summary["per_stage"]] + [5])
    lines = [f"{'stage':<{width}}  " + "  ".join(f"{c:>11}" for c in _COLUMNS)]
    for stage in sorted(summary["per_stage"]):
        row = summary["per_stage"][stage]
        lines.append(f"{stage:<{width}}  " + "  ".join(f"{row[c]:>11}" for c in _COLUMNS))
    states = ", ".join(f"{s} {summary['states'].get(s, 0)}" for s in STATES if summary["states"].get(s))
    lines.append(f"files {summary['files']} ({states or 'none'}); products {summary['products']}")
    assoc = summary.get("associations") or {}
    if any(assoc.values()):
        lines.append(f"stage-3 products: being made {assoc['stage3']}, done {assoc['done']} "
                     f"(partial {assoc['partial']}), failed {assoc['failed']}")
    cands = summary.get("candidates") or {}
    if cands.get("members"):
        age = cands["oldest_waiting_s"]
        lines.append(f"association candidates: waiting for members {cands['waiting']}"
                     + (f" (oldest {age:.0f} s)" if age is not None else "")
                     + f", fired partial {cands['partial']}, complete {cands['complete']}; "
                       f"members held {cands['members']}")
    oldest = summary.get("oldest_waiting")
    if oldest:
        lines.append(f"oldest waiting: {oldest['name']} ({oldest['state']}, {oldest['stage'] or '-'}) "
                     f"for {oldest['age_s']:.0f} s")
    else:
        lines.append("oldest waiting: nothing waiting")
    if summary["recent_products"]:
        lines.append("recent products:")
        for p in summary["recent_products"]:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p["created_at"]))
            lines.append(f"  {when}  {p['path']}")
    return "\n".join(lines)
