"""Spectra as Parquet rows: one row per wavelength sample, for the stream's ``spectra`` dataset."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .model import SPEC_COLUMNS, Spectrum, TSOSpectra

__all__ = ["SPECTRA_SCHEMA", "spectrum_rows", "tso_rows"]

#: Row schema of the spectra dataset: identification, then the x1d columns (lower case).
SPECTRA_SCHEMA = pa.schema(
    [("product", pa.string()), ("name", pa.string()), ("source_id", pa.int32()), ("spectral_order", pa.int32()),
     ("int_num", pa.int32()), ("mjd_avg", pa.float64())]
    + [(c.lower(), pa.uint32() if t == "u4" else pa.float64()) for c, t in SPEC_COLUMNS])


def _rows(product: str, spectrum: Spectrum, int_num: np.ndarray, mjd_avg: np.ndarray) -> pa.Table:
    n = spectrum.size
    meta = spectrum.meta
    columns = {"product": pa.array([product] * n, pa.string()),
               "name": pa.array([meta.name] * n, pa.string()),
               "source_id": pa.array([meta.source_id] * n, pa.int32()),
               "spectral_order": pa.array([meta.spectral_order] * n, pa.int32()),
               "int_num": pa.array(int_num, pa.int32()), "mjd_avg": pa.array(mjd_avg, pa.float64())}
    for c, t in SPEC_COLUMNS:
        columns[c.lower()] = pa.array(spectrum.column(c).astype(t))
    return pa.Table.from_pydict(columns, schema=SPECTRA_SCHEMA)


def spectrum_rows(product: str, spectrum: Spectrum) -> pa.Table:
    """One row per wavelength sample of ``spectrum`` (``int_num``/``mjd_avg`` null), tagged with
    the product name (e.g. the ``_x1d`` file's stem), slit name, source id and order."""
    n = spectrum.size
    return _rows(product, spectrum, pa.nulls(n, pa.int32()), pa.nulls(n, pa.float64()))


def tso_rows(product: str, spectra: TSOSpectra) -> pa.Table:
    """One row per wavelength sample and integration (``int_num`` 1-based, ``mjd_avg`` the
    integration's mid time, MJD UTC)."""
    tables = []
    for i in range(spectra.n_int):
        spec = spectra.integration(i)
        tables.append(_rows(product, spec, np.full(spec.size, spectra.int_num[i]),
                            np.full(spec.size, spectra.mjd_avg[i])))
    return pa.concat_tables(tables)
