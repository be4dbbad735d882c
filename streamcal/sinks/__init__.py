"""Sinks: where products and their records go.

Each sink states its delivery guarantee.  The ledger (:mod:`streamcal.ledger`) is the source
of truth; these sinks are views of it a user can read without SQLite:

- :class:`EventLog` — JSON lines, one per event (at-least-once across a crash: a resumed
  exposure logs ``started`` again);
- :class:`ProductTable` — a Parquet dataset of products, one part file per flush
  (at-least-once per flush; :meth:`ProductTable.read` keeps the latest row per product);
- :func:`quarantine` — moves a bad input aside with a ``.reason.json`` (never deletes);
- :class:`FitsProductSink` — FITS products with their JWST names, written atomically and
  recorded in the ledger, the table and the event log (exactly one file per product path).
"""

from .events import EVENTS, EventLog, read_events
from .quarantine import quarantine
from .table import PRODUCT_SCHEMA, ProductTable

__all__ = ["EVENTS", "EventLog", "read_events", "FitsProductSink", "quarantine",
           "PRODUCT_SCHEMA", "ProductTable"]


def __getattr__(name: str):
    # FitsProductSink pulls in the calibration pipelines (numba); the ledger and ingest actors
    # that only need the light sinks do not pay for that import.
    if name == "FitsProductSink":
        from .fits import FitsProductSink

        return FitsProductSink
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
