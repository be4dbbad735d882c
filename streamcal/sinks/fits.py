"""FITS products with their JWST names, recorded in the ledger, the product table and the log."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..pipelines.runner import PipelineResult
from ..provenance import sha256_file
from .products import DirectorySink

__all__ = ["FitsProductSink", "ProductRecorder"]


class ProductRecorder(Protocol):
    """What the sink needs of a ledger: :meth:`streamcal.ledger.Ledger.record_product`
    (a ledger actor's handle wrapped to call it synchronously fits too)."""

    def record_product(self, file_id: int, path: str | os.PathLike, suffix: str,
                       stage: str | None, sha256: str | None) -> bool: ...


class FitsProductSink:
    """Write a pipeline run's products under ``products_dir`` and record each of them.

    Each product is written by :class:`~streamcal.sinks.products.DirectorySink`: under a
    hidden temporary name then renamed into place (all or nothing for one run), so a reader
    never sees half a file.  Then, per product: its SHA-256 and size are measured, it is
    recorded in the ledger (idempotent by path), a row goes to the product table (flushed once
    per run) and a ``product`` event to the event log.

    Delivery: exactly one file per product path — a rerun of the same exposure overwrites the
    product atomically and updates its ledger row instead of adding one.  The table and event
    log get a new row/line for the rerun (at-least-once; ``ProductTable.read`` keeps the
    latest row per product).  A crash between the rename and the ledger record leaves a
    complete product that the ledger does not list yet; the resumed exposure rewrites and
    records it.

    Parameters
    ----------
    products_dir : str or Path
        Where products go (created when absent).
    ledger : ProductRecorder
        Usually a :class:`streamcal.ledger.Ledger`.
    table : ProductTable, optional
    events : EventLog or ListEventSink, optional
    clock : callable, optional
        Seconds since the epoch, for ``created_at``.
    """

    def __init__(self, products_dir: str | os.PathLike, ledger: ProductRecorder, *,
                 table: Any = None, events: Any = None, clock: Callable[[], float] = time.time):
        self.products_dir = Path(products_dir)
        self.products_dir.mkdir(parents=True, exist_ok=True)
        self.ledger = ledger
        self.table = table
        self.events = events
        self._clock = clock

    def write(self, file_id: int, result: PipelineResult, input_name: str, *,
              stage: str | None = None, seconds: float | None = None) -> list[Path]:
        """Write and record every product of ``result`` for the landed file ``file_id``.

        Parameters
        ----------
        input_name : str
            The landed file's name (``<root>_uncal.fits``); products are named from it.
        stage : str, optional
            Recorded as the product's stage; the pipeline name by default.
        seconds : float, optional
            Processing time of the run, for the product table.

        Returns
        -------
        list of Path
            The products, in the order of ``result.products``.
        """
        stage = stage or result.pipeline
        paths = DirectorySink(self.products_dir).write(result, input_name)
        now = self._clock()
        for product, path in zip(result.products, paths):
            sha, size = sha256_file(path), path.stat().st_size
            new = self.ledger.record_product(file_id, path, product.suffix, stage, sha)
            meta = product.model.meta
            if self.table is not None:
                self.table.add({"file": Path(input_name).name, "product": str(path),
                                "suffix": product.suffix, "stage": stage, "pipeline": result.pipeline,
                                "exp_type": meta.exp_type, "instrument": meta.instrument,
                                "detector": meta.detector, "sha256": sha, "size": size,
                                "created_at": now, "seconds": seconds})
            if self.events is not None:
                self.events.write("product", file=Path(input_name).name, stage=stage, when=now,
                                  detail={"path": str(path), "suffix": product.suffix, "sha256": sha,
                                          "size": size, "new": new})
        if self.table is not None:
            self.table.flush()
        return paths
