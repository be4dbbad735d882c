"""The orchestration core of the stream: typed jobs and outcomes, readiness, retries, resume —
every decision, on the ledger, without Ray.  :mod:`streamcal.actors` adapts it to Ray.

Read :mod:`streamcal.flow.core` top to bottom to follow one exposure from landing to product.
"""

from .core import Flow
from .events import LOG_EVENTS, log_event
from .jobs import Arrival, ArrivalKind, Job, Outcome, OutcomeKind, ProductFile, StageOptions, is_asn_name

__all__ = ["Arrival", "ArrivalKind", "Flow", "Job", "LOG_EVENTS", "Outcome", "OutcomeKind", "ProductFile",
           "StageOptions", "is_asn_name", "log_event"]
