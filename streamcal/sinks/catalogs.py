"""Source catalogs as files: the ``_cat.ecsv`` and ``_segm.fits`` products and a Parquet dataset
that accumulates every catalog across products.

The dataset (``CatalogDataset``) holds one part file per catalog written, one row per source,
the catalog's columns flattened for Parquet (a sky coordinate ``c`` becomes ``c_ra`` and
``c_dec``, deg; units move to the field metadata) plus ``product`` (the product name, e.g.
``jw01234-o001_t001_nircam_clear-f200w``) and ``created_at`` (UTC).  Parts are written under a
hidden temporary name and renamed into place (pyarrow.dataset ignores names starting with
``.``), so readers see a catalog whole or not at all.

Delivery: at-least-once per catalog; a product that is remade (a late association member)
appends a newer part, and :meth:`CatalogDataset.read` keeps only the newest catalog of each
product by default.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import Table

from ..fitsio import asdf_hdu, atomic_write

__all__ = ["CatalogDataset", "catalog_to_arrow", "write_parquet_part", "write_catalog_ecsv", "write_segm"]


def _atomic_target(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    return tmp


def _replace_into(tmp: str, path: Path) -> Path:
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; products are for everyone to read
    os.replace(tmp, path)
    return path


def write_catalog_ecsv(catalog: Table, path: str | os.PathLike, meta: Mapping[str, Any] | None = None) -> Path:
    """Write a catalog as ECSV atomically (hidden temporary name, rename); ``meta`` (e.g. the
    provenance keywords) is merged into the table metadata of the file only."""
    path = Path(path)
    table = catalog.copy(copy_data=False)
    table.meta.update(dict(meta or {}))
    tmp = _atomic_target(path)
    try:
        table.write(tmp, format="ascii.ecsv", overwrite=True)
        return _replace_into(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_segm(segm: np.ndarray, path: str | os.PathLike, header: fits.Header | None = None,
               sci_header: fits.Header | None = None, wcs=None) -> Path:
    """Write a segmentation map (jwst SegmentationMapModel layout: primary header + ``SCI``
    int32 (ny, nx), 0 = background, k = source label k; the ASDF extension with the metadata
    tree and the mosaic's gwcs ``wcs`` at ``meta.wcs``, as jwst's source_catalog sets it)
    atomically."""
    primary = fits.PrimaryHDU(header=header.copy() if header is not None else None)
    primary.header["DATAMODL"] = "SegmentationMapModel"
    sci = fits.ImageHDU(np.asarray(segm, np.int32), header=sci_header.copy() if sci_header is not None else None,
                        name="SCI")
    return atomic_write(fits.HDUList([primary, sci, asdf_hdu(wcs, [primary, sci])]), path)


def _unit_meta(unit) -> dict[bytes, bytes] | None:
    return {b"unit": str(unit).encode()} if unit is not None and str(unit) else None


def catalog_to_arrow(catalog: Table, product: str, created_at: datetime) -> pa.Table:
    """A catalog as an Arrow table: sky coordinates split into ``_ra``/``_dec`` (deg),
    quantities as plain floats with their unit in the field metadata, then ``product`` and
    ``created_at``."""
    fields, arrays = [], []
    for name in catalog.colnames:
        col = catalog[name]
        if isinstance(col, SkyCoord):
            icrs = col.icrs
            for suffix, values in (("ra", icrs.ra.deg), ("dec", icrs.dec.deg)):
                fields.append(pa.field(f"{name}_{suffix}", pa.float64(), metadata={b"unit": b"deg"}))
                arrays.append(pa.array(np.asarray(values, float)))
            continue
        unit = getattr(col, "unit", None)
        values = np.asarray(getattr(col, "value", col))
        array = pa.array(values)
        fields.append(pa.field(name, array.type, metadata=_unit_meta(unit)))
        arrays.append(array)
    n = len(catalog)
    fields += [pa.field("product", pa.string()), pa.field("created_at", pa.timestamp("us", tz="UTC"))]
    arrays += [pa.array([product] * n, pa.string()), pa.array([created_at] * n, pa.timestamp("us", tz="UTC"))]
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def write_parquet_part(table: pa.Table, directory: str | os.PathLike, prefix: str = "part") -> Path:
    """Write ``table`` as a new part file ``<prefix>-<time>-<random>.parquet`` of a dataset
    directory, atomically."""
    directory = Path(directory)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    path = directory / f"{prefix}-{stamp}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = _atomic_target(path)
    try:
        pq.write_table(table, tmp)
        return _replace_into(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class CatalogDataset:
    """Every catalog written, as one Parquet dataset in ``directory`` (created when absent).

    Query it with pyarrow, e.g. all sources brighter than AB 24 in two products::

        CatalogDataset(d).read(filter=(pc.field("aper_total_abmag") < 24)
                               & pc.field("product").isin(["p1", "p2"]))

    or ``pyarrow.dataset.dataset(d, format="parquet")`` directly (then ``.to_pandas()``).
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def append(self, catalog: Table, product: str, *, created_at: datetime | None = None) -> Path:
        """Add one product's catalog as a new part file; returns it."""
        if not product:
            raise ValueError("a catalog needs its product name")
        when = created_at or datetime.now(timezone.utc)
        return write_parquet_part(catalog_to_arrow(catalog, str(product), when), self.directory)

    def _dataset(self) -> ds.Dataset | None:
        files = sorted(str(p) for p in self.directory.glob("part-*.parquet"))
        if not files:
            return None
        # catalogs with other aperture EE percentages have other columns: unify (missing -> null)
        schema = pa.unify_schemas([pq.read_schema(f) for f in files], promote_options="permissive")
        return ds.dataset(files, format="parquet", schema=schema)

    def read(self, *, filter: pc.Expression | None = None, columns: list[str] | None = None,
             latest: bool = True) -> pa.Table:
        """Rows of every catalog (matching ``filter``), as one Arrow table.

        Parameters
        ----------
        filter : pyarrow.compute.Expression, optional
            Row filter, e.g. ``pc.field("product") == "p1"``.
        columns : list of str, optional
            Columns to return (``product`` and ``created_at`` are always included).
        latest : bool
            Keep, per product, only the newest catalog (a remade product replaces the old one).
        """
        dataset = self._dataset()
        if dataset is None:
            return pa.table({"product": pa.array([], pa.string())})
        wanted = None if columns is None else list(dict.fromkeys(list(columns) + ["product", "created_at"]))
        table = dataset.to_table(columns=wanted, filter=filter)
        if not latest or table.num_rows == 0:
            return table
        newest = table.group_by("product").aggregate([("created_at", "max")])
        keep = table.join(newest, keys="product", join_type="inner")
        keep = keep.filter(pc.equal(keep["created_at"], keep["created_at_max"]))
        keep = keep.select(table.column_names)
        return pa.Table.from_arrays(keep.columns, schema=table.schema)  # the join drops field units
