"""Sinks: where products and their records go.

Each sink states its delivery guarantee.  The ledger (:mod:`streamcal.ledger`) is the source
of truth; these sinks are views of it a user can read without SQLite:

- :class:`EventLog` — JSON lines, one per event (at-least-once across a crash: a resumed
  exposure logs ``started`` again);
- :class:`ProductTable` — a Parquet dataset of products, one part file per flush
  (at-least-once per flush; :meth:`ProductTable.read` keeps the latest row per product);
- :func:`quarantine` — moves a bad input aside with a ``.reason.json`` (never deletes);
- :class:`~.products.ProductSink` / :class:`~.products.DirectorySink` — where the pipelines
  write their products (files with their JWST names, each written atomically; exactly one file
  per product path): ``streamcal calibrate`` and the stage workers write through it;
- :class:`FitsProductSink` — a :class:`~.products.DirectorySink` whose products are also recorded
  in a ledger, the table and the event log (the stream records from the worker's outcome instead).
"""

from .events import EVENTS, EventLog, read_events
from .quarantine import quarantine
from .table import PRODUCT_SCHEMA, ProductTable

__all__ = ["EVENTS", "EventLog", "read_events", "DirectorySink", "FitsProductSink", "ProductSink",
           "product_sink", "quarantine", "PRODUCT_SCHEMA", "ProductTable"]


def __getattr__(name: str):
    # FitsProductSink pulls in the calibration pipelines (numba); the ledger and ingest actors
    # that only need the light sinks do not pay for that import.
    if name == "FitsProductSink":
        from .fits import FitsProductSink

        return FitsProductSink
    if name in ("DirectorySink", "ProductSink", "product_sink"):
        from . import products

        return getattr(products, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
