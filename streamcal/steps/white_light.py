"""white_light: the wavelength-integrated flux of every integration of a spectroscopic TSO.

As jwst 3.0's ``white_light``: per spectrum (slit/order/detector) of an ``x1dints``, FLUX is
summed (NaN samples skipped) over ``min_wave <= WAVELENGTH <= max_wave`` for each integration;
integrations with a duplicated mid time keep the first.  The table has ``MJD_UTC`` and
``BJD_TDB`` (the integrations' mid times, from MJD-AVG/TDB-MID) and ``whitelight_flux`` in the
FLUX unit (Jy), with ``_order_N`` appended when there are several orders and ``_<DETECTOR>``
when there are several detectors (or NIRSpec's NRS1/NRS2).  :func:`write_whitelight` writes the
``_whtlt.ecsv``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ..spectra.model import TSOSpectra

__all__ = ["WhiteLight", "white_light", "write_whitelight"]


@dataclass(frozen=True)
class WhiteLight:
    """The white-light table: ordered columns (name -> array), the flux unit, and the table
    metadata jwst writes (instrument, exp_type, subarray, filter, pupil, target_name)."""

    columns: Mapping[str, np.ndarray]
    flux_unit: str | None
    meta: Mapping[str, object] = field(default_factory=dict)


def _wave_range(order, ranges: Mapping | None, min_wave, max_wave) -> tuple[float, float]:
    lo, hi = -1.0, 1.0e10  # beyond any observed wavelength
    if ranges is not None:
        if order not in ranges:
            raise ValueError(f"no wavelength range for spectral order {order}")
        lo, hi = ranges[order]
    return (lo if min_wave is None else min_wave), (hi if max_wave is None else max_wave)


def _first_unique(times: np.ndarray) -> np.ndarray:
    """``times`` with every repeat of an earlier value set to NaN."""
    out = np.array(times, dtype=float)
    _, first = np.unique(out, return_index=True)
    repeat = np.ones(out.size, bool)
    repeat[first] = False
    out[repeat] = np.nan
    return out


def white_light(spectra: Sequence[TSOSpectra], *, min_wave: float | None = None, max_wave: float | None = None,
                order_ranges: Mapping[int, tuple[float, float]] | None = None, flux_unit: str | None = "Jy",
                meta: Mapping[str, object] | None = None) -> WhiteLight:
    """White-light flux per integration.

    Parameters
    ----------
    spectra : sequence of TSOSpectra
        The x1dints spectra (one per slit/order/detector, concatenated segments).
    min_wave, max_wave : float, optional
        Wavelength limits (µm, inclusive); they override ``order_ranges``.
    order_ranges : mapping, optional
        Per spectral order (min, max) µm (jwst's WAVELENGTHRANGE for SOSS).
    flux_unit : str, optional
        Unit of the flux column (the FLUX unit of the input).
    meta : mapping, optional
        Table metadata to carry.
    """
    if not spectra:
        raise ValueError("white_light: no spectra")
    orders, detectors = [], []
    rows = []  # (order, detector, mid_mjd, mid_tdb, flux_sum) per integration
    for tso in spectra:
        order, det = tso.meta.spectral_order, tso.meta.detector
        orders += [order] if order not in orders else []
        detectors += [det] if det not in detectors else []
        lo, hi = _wave_range(order, order_ranges, min_wave, max_wave)
        mid = _first_unique(tso.mjd_avg)
        wl, flux = tso.spectral["WAVELENGTH"], np.array(tso.spectral["FLUX"], dtype=float)
        inside = (wl >= lo) & (wl <= hi) & ~np.isnan(mid)[:, None]
        sums = np.nansum(np.where(inside, flux, np.nan), axis=1)
        rows += [(order, det, m, t, f) for m, t, f in zip(mid, tso.tdb_mid, sums) if not np.isnan(m)]
    columns: dict[str, np.ndarray] = {}
    by_det = {d: [r for r in rows if r[1] == d] for d in detectors}
    times = {d: np.unique([r[2] for r in by_det[d]]) for d in detectors}
    nrows = max((t.size for t in times.values()), default=0)
    for det in detectors:
        suffix = f"_{det}" if len(detectors) > 1 or str(det).upper() in ("NRS1", "NRS2") else ""
        mjd = np.full(nrows, np.nan)
        mjd[:times[det].size] = times[det]
        tdb_of = {}
        for r in by_det[det]:
            tdb_of.setdefault(r[2], r[3])  # the first row of a time gives its TDB
        bjd = np.full(nrows, np.nan)
        bjd[:times[det].size] = [tdb_of[t] for t in times[det]]
        columns[f"MJD_UTC{suffix}"] = mjd
        columns[f"BJD_TDB{suffix}"] = bjd
        for order in orders:
            sums = {r[2]: r[4] for r in by_det[det] if r[0] == order}
            flux = np.array([sums.get(t, np.nan) for t in mjd])
            name = "whitelight_flux" + (f"_order_{order}" if len(orders) > 1 else "")
            columns[f"{name}{suffix}"] = flux
    return WhiteLight(columns, flux_unit, dict(meta or {}))


def write_whitelight(result: WhiteLight, path: str | Path, meta: Mapping[str, object] | None = None) -> Path:
    """Write the ``_whtlt.ecsv`` table atomically (flux columns carry the flux unit; ``meta``,
    e.g. provenance keywords, joins the table metadata)."""
    from astropy import units as u
    from astropy.table import QTable

    from ..sinks.catalogs import write_catalog_ecsv

    table = QTable(meta=dict(result.meta))
    for name, values in result.columns.items():
        unit = result.flux_unit if name.startswith("whitelight_flux") and result.flux_unit else None
        table[name] = values << u.Unit(unit) if unit else values
    return write_catalog_ecsv(table, path, meta)
