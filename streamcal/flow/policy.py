"""What follows a worker's outcome that is not a success: quarantine, fail, or retry later.

Bad input is quarantined at once and never retried (an association's bad member fails the
association instead: the member's own exposure is fine); a pipeline streamcal does not implement
fails at once; only transient failures (a worker that died, ran out of memory, an I/O error) are
retried, with exponential backoff, until the attempts run out.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..config import RetryConfig
from .jobs import Job, Outcome, OutcomeKind

__all__ = ["Decision", "Verdict", "decide"]


class Verdict(enum.Enum):
    QUARANTINE = "quarantine"
    FAIL = "fail"
    RETRY = "retry"


@dataclass(frozen=True)
class Decision:
    """The verdict on an unsuccessful outcome, the check and reason to record, and for a retry
    when it may start (seconds since the epoch)."""

    verdict: Verdict
    check: str
    reason: str
    ready_at: float = 0.0


def decide(job: Job, outcome: Outcome, policy: RetryConfig, now: float) -> Decision:
    """The decision for ``job`` after an unsuccessful ``outcome`` at time ``now``."""
    if outcome.kind is OutcomeKind.BAD_INPUT:
        verdict = Verdict.FAIL if job.association else Verdict.QUARANTINE
        return Decision(verdict, outcome.check or "input", outcome.reason)
    if outcome.kind is OutcomeKind.NOT_IMPLEMENTED:
        return Decision(Verdict.FAIL, "not_implemented", outcome.reason)
    if job.attempt >= policy.max_attempts:
        return Decision(Verdict.FAIL, "transient", f"{outcome.reason} (after {job.attempt} attempts)")
    return Decision(Verdict.RETRY, "transient", outcome.reason, now + policy.delay(job.attempt))
