"""The product table: a Parquet dataset (pyarrow), one small part file per flush."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

__all__ = ["PRODUCT_SCHEMA", "ProductTable"]

#: One row per product written.  ``created_at`` is when the product was written (UTC);
#: ``seconds`` is the processing time of the pipeline run that made it (null if unknown).
PRODUCT_SCHEMA = pa.schema([
    ("file", pa.string()),
    ("product", pa.string()),
    ("suffix", pa.string()),
    ("stage", pa.string()),
    ("pipeline", pa.string()),
    ("exp_type", pa.string()),
    ("instrument", pa.string()),
    ("detector", pa.string()),
    ("sha256", pa.string()),
    ("size", pa.int64()),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("seconds", pa.float64()),
])


class ProductTable:
    """Products as a Parquet dataset in ``directory`` (``part-*.parquet``).

    Rows are buffered by :meth:`add` and written by :meth:`flush` as one new part file: written
    under a hidden temporary name (pyarrow.dataset ignores names starting with ``.``) and
    renamed into place, so a reader sees a part whole or not at all.

    Delivery: at-least-once per flushed row (rows buffered and not flushed are lost in a crash;
    a rerun that rewrites a product adds a newer row for it).  :meth:`read` keeps the latest
    row per product path by default.

    Query it with pyarrow (or pandas, if installed), for example
    ``pyarrow.dataset.dataset(directory, format="parquet").to_table(filter=ds.field("suffix") == "rate")``
    (then ``.to_pandas()``).

    Parameters
    ----------
    directory : str or Path
        Created when absent.
    clock : callable, optional
        Seconds since the epoch, for ``created_at`` when a row has none.
    """

    def __init__(self, directory: str | os.PathLike, *, clock: Callable[[], float] = time.time):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._rows: list[dict] = []

    def add(self, row: Mapping[str, Any]) -> None:
        """Buffer one row (keys of :data:`PRODUCT_SCHEMA`; missing ones are null).

        Raises
        ------
        ValueError
            A key not in the schema, or no ``product`` path.
        """
        unknown = set(row) - set(PRODUCT_SCHEMA.names)
        if unknown:
            raise ValueError(f"unknown product table columns {sorted(unknown)}; "
                             f"columns are {PRODUCT_SCHEMA.names}")
        if not row.get("product"):
            raise ValueError("a product table row needs its 'product' path")
        full = {name: row.get(name) for name in PRODUCT_SCHEMA.names}
        created = full["created_at"]
        if created is None:
            created = self._clock()
        if isinstance(created, (int, float)):
            created = datetime.fromtimestamp(created, tz=timezone.utc)
        full["created_at"] = created
        for key in ("file", "product"):
            full[key] = str(full[key]) if full[key] is not None else None
        self._rows.append(full)

    def write(self, rows: Iterable[Mapping[str, Any]]) -> Path | None:
        """:meth:`add` each row, then :meth:`flush`."""
        for row in rows:
            self.add(row)
        return self.flush()

    def flush(self) -> Path | None:
        """Write the buffered rows as one part file; returns it (None when nothing was buffered)."""
        if not self._rows:
            return None
        table = pa.Table.from_pylist(self._rows, schema=PRODUCT_SCHEMA)
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        path = self.directory / f"part-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=self.directory)
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._rows = []
        return path

    def read(self, *, latest: bool = True) -> pa.Table:
        """Every flushed row as one table (the schema even when empty).

        Parameters
        ----------
        latest : bool
            Keep only the newest row (by ``created_at``, then part order) per product path.
        """
        table = ds.dataset(self.directory, format="parquet", schema=PRODUCT_SCHEMA).to_table()
        if not latest or table.num_rows == 0:
            return table
        table = table.append_column("_order", pa.array(range(table.num_rows), pa.int64()))
        table = table.sort_by([("product", "ascending"), ("created_at", "descending"),
                               ("_order", "descending")])
        products = table.column("product").to_pylist()
        keep = [i for i, p in enumerate(products) if i == 0 or p != products[i - 1]]
        table = table.take(pa.array(keep)).sort_by([("created_at", "ascending"), ("_order", "ascending")])
        return table.drop_columns(["_order"])

    def __len__(self) -> int:
        """Rows buffered and not flushed yet."""
        return len(self._rows)

