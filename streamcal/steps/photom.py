"""photom (PHOTOM, AREA) for imaging: count rate (DN/s) -> surface brightness (MJy/sr).

The PHOTOM reference is a FITS table (extension ``PHOTOM``) in the jwst layout: one row per
optical configuration, keyed by

========== ==========================================
instrument key columns
========== ==========================================
NIRCam     filter, pupil (and subarray when present)
NIRISS     filter, pupil
MIRI       filter, subarray (GENERIC when no exact row)
FGS        none: the first (only) row
========== ==========================================

with ``photmjsr`` (MJy/sr per DN/s) and ``uncertainty``.  Optional ``TIMECOEFF_LINEAR``,
``TIMECOEFF_EXPONENTIAL`` and ``TIMECOEFF_POWERLAW`` tables, row-aligned with PHOTOM, give a
throughput factor at the exposure mid time (EXPMID, MJD); with several, their factors multiply,
and the conversion is divided by the product (jwst ``time_dependence``):

- linear: ``1 - lossperyear (t - t0) / 365``
- exponential: ``amplitude exp(-(t - t0) / tau) + const``
- power law: ``(t - t0 + tsoft)^alpha / ((365 + tsoft)^alpha / year1value)``

Then ``SCI, ERR *= C`` and ``VAR_* *= C^2``; BUNIT becomes MJy/sr; the SCI header gets
PHOTMJSR (C), PHOTUJA2 (C in uJy/arcsec^2), PIXAR_SR and PIXAR_A2 (from the AREA file's
header, else the PHOTOM file's); the AREA map (relative pixel area, cut to the subarray) is
attached as ``model.area``.  NaN and DO_NOT_USE are made to agree afterwards, as in jwst.
Spectral images (MIRI LRS, NIRCam/NIRISS grisms) are calibrated by :mod:`.photom_spec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import NotImplementedStepError, ReferenceFileError
from ..models import ImageModel
from ..refs.model import RefData
from ._common import match_nans_and_flags, ref_array
from .base import StepParams, StepReport, skipped

NAME = "photom"
STATUS_KEYWORD = "S_PHOTOM"
REFTYPES = ("photom",)
OPTIONAL_REFTYPES = ("area",)

#: (MJy/sr) -> (uJy/arcsec^2): 1e12 uJy/MJy times (1 arcsec in rad)^2.
MJSR_TO_UJA2 = 1e12 * (np.pi / (180.0 * 3600.0)) ** 2

#: Exposure types photom converts to MJy/sr here (imaging); others belong to spec2.
_SPECTRAL_MARKERS = ("WFSS", "GRISM", "SOSS", "LRS", "MRS", "IFU", "MSASPEC", "FIXEDSLIT", "BRIGHTOBJ")


@dataclass(frozen=True)
class Params(StepParams):
    """photom parameters (jwst names).

    Attributes
    ----------
    inverse : bool
        Undo the calibration (MJy/sr -> DN/s).
    apply_time_correction : bool
        Apply the TIMECOEFF_* throughput-loss tables when the reference has them.
    """

    inverse: bool = False
    apply_time_correction: bool = True


# ------------------------------------------------------------------------------ kernels

def _column(table: np.ndarray, name: str) -> np.ndarray | None:
    for field in table.dtype.names or ():
        if field.lower() == name:
            return table[field]
    return None


def _matches(table: np.ndarray, keys: Mapping[str, str]) -> np.ndarray:
    ok = np.ones(len(table), bool)
    for name, value in keys.items():
        column = _column(table, name)
        if column is None:
            raise ReferenceFileError(f"PHOTOM table has no {name!r} column")
        ok &= np.char.upper(np.char.strip(column.astype(str))) == value.strip().upper()
    return ok


def find_row(table: np.ndarray, instrument: str, filter_name: str, pupil: str, subarray: str) -> int | None:
    """Index of the PHOTOM row for an exposure (rules of the module table); None if none.

    Parameters
    ----------
    table : structured ndarray
        The PHOTOM table (column names in any case).

    Raises
    ------
    ReferenceFileError
        A key column is missing, or more than one row matches.

    Examples
    --------
    >>> t = np.array([("F200W", "CLEAR", 2.0), ("F150W2", "F162M", 5.0)],
    ...              dtype=[("filter", "U8"), ("pupil", "U8"), ("photmjsr", "f4")])
    >>> find_row(t, "NIRCAM", "F150W2", "F162M", "FULL")
    1
    """
    if instrument == "FGS":
        return 0 if len(table) else None
    if instrument in ("NIRCAM", "NIRISS"):
        keys = {"filter": filter_name, "pupil": pupil}
        if instrument == "NIRCAM" and _column(table, "subarray") is not None:
            keys["subarray"] = subarray
        candidates = [keys]
    elif instrument == "MIRI":
        candidates = [{"filter": filter_name, "subarray": subarray},
                      {"filter": filter_name, "subarray": "GENERIC"}]
    else:
        raise NotImplementedStepError(f"photom for {instrument} imaging is not implemented")
    for keys in candidates:
        rows = np.flatnonzero(_matches(table, keys))
        if len(rows) > 1:
            raise ReferenceFileError(f"PHOTOM table: {len(rows)} rows match {keys}")
        if len(rows) == 1:
            return int(rows[0])
    return None


def time_correction(tables: Mapping[str, np.ndarray], row: int, mjd: float) -> float:
    """Throughput factor at ``mjd`` from the TIMECOEFF_* tables (1 when there are none).

    Examples
    --------
    2 % loss per year, one year after t0 -> 0.98:

    >>> lin = np.array([(60000.0, 0.02)], dtype=[("t0", "f8"), ("lossperyear", "f8")])
    >>> round(time_correction({"TIMECOEFF_LINEAR": lin}, 0, 60365.0), 6)
    0.98
    """
    factor = 1.0
    lin = tables.get("TIMECOEFF_LINEAR")
    if lin is not None:
        r = lin[row]
        factor *= 1.0 - r["lossperyear"] * (mjd - r["t0"]) / 365.0
    exp = tables.get("TIMECOEFF_EXPONENTIAL")
    if exp is not None:
        r = exp[row]
        factor *= r["amplitude"] * np.exp(-(mjd - r["t0"]) / r["tau"]) + r["const"]
    power = tables.get("TIMECOEFF_POWERLAW")
    if power is not None:
        r = power[row]
        norm = (365.0 + r["tsoft"]) ** r["alpha"] / r["year1value"]
        factor *= (mjd - r["t0"] + r["tsoft"]) ** r["alpha"] / norm
    return float(factor)


def apply_conversion_inplace(image: ImageModel, factor: float) -> None:
    """``SCI, ERR *= factor``; ``VAR_* *= factor^2`` (absent variances stay absent).

    Examples
    --------
    >>> from astropy.io import fits
    >>> im = ImageModel(None, fits.Header(), np.full((1, 1), 2, np.float32), np.ones((1, 1), np.float32),
    ...                 np.zeros((1, 1), np.uint32), var_poisson=np.full((1, 1), 4, np.float32))
    >>> apply_conversion_inplace(im, 3.0)
    >>> float(im.data[0, 0]), float(im.err[0, 0]), float(im.var_poisson[0, 0])
    (6.0, 3.0, 36.0)
    """
    c = np.float32(factor)
    image.data *= c
    image.err *= c
    for var in (image.var_poisson, image.var_rnoise, image.var_flat):
        if var is not None:
            var *= c * c


# ------------------------------------------------------------------------------ adapter

def _pixel_area(refs: Mapping[str, RefData], photom: RefData) -> tuple[float | None, float | None]:
    for ref in (refs.get("area"), photom):
        if ref is not None and ref.header.get("PIXAR_SR") is not None:
            a2 = ref.header.get("PIXAR_A2")
            return float(ref.header["PIXAR_SR"]), None if a2 is None else float(a2)
    return None, None


def _mid_mjd(image: ImageModel) -> float | None:
    for key in ("EXPMID", "EXPSTART"):
        value = image.header.get(key)
        if value is not None:
            return float(value)
    return None


def _conversion(image: ImageModel, ref: RefData, params: Params) -> tuple[float | None, str]:
    """The conversion factor for this exposure and a note; None when no row applies."""
    table = ref.tables.get("PHOTOM")
    if table is None:
        raise ReferenceFileError(f"photom reference {ref.name} has no PHOTOM table")
    m = image.meta
    row = find_row(table, m.instrument, m.filter, m.pupil, m.subarray)
    if row is None:
        return None, f"no PHOTOM row for FILTER={m.filter} PUPIL={m.pupil} SUBARRAY={m.subarray}"
    value = float(_column(table, "photmjsr")[row])
    timed = [k for k in ref.tables if k.startswith("TIMECOEFF_")]
    if not (timed and params.apply_time_correction):
        return value, f"PHOTMJSR {value:.6g} (row {row})"
    mjd = _mid_mjd(image)
    if mjd is None:
        raise ReferenceFileError(f"{ref.name} has time-dependence tables but the exposure has no EXPMID")
    corr = time_correction(ref.tables, row, mjd)
    return value / corr, f"PHOTMJSR {value:.6g} (row {row}) / time factor {corr:.6g} at MJD {mjd:.3f}"


def _attach_area(image: ImageModel, refs: Mapping[str, RefData]) -> None:
    area = refs.get("area")
    if area is not None and "SCI" in area.arrays:
        image.area = np.array(ref_array(area, "SCI", image.data.shape[-2:], ndim=(2,)), np.float32)


def run(image: ImageModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Convert an imaging ``cal`` to MJy/sr in place (module docstring)."""
    if params.skip:
        return image, skipped("skipped by parameter")
    if any(marker in image.meta.exp_type for marker in _SPECTRAL_MARKERS):
        from . import photom_spec  # spectra: per-pixel relative response (imports this module)
        return photom_spec.run(image, refs, params)
    ref = refs["photom"]
    factor, note = _conversion(image, ref, params)
    if factor is None:
        return image, skipped(note + ": data stay in DN/s")
    pixar_sr, pixar_a2 = _pixel_area(refs, ref)
    _attach_area(image, refs)
    apply_conversion_inplace(image, 1.0 / factor if params.inverse else factor)
    image.bunit = "DN/s" if params.inverse else "MJy/sr"
    hdr = image.sci_header
    hdr["PHOTMJSR"] = (factor, "Flux density (MJy/steradian) producing 1 cps")
    hdr["PHOTUJA2"] = (factor * MJSR_TO_UJA2, "Flux density (uJy/arcsec2) producing 1 cps")
    if pixar_sr is not None:
        hdr["PIXAR_SR"] = (pixar_sr, "Nominal pixel area in steradians")
    if pixar_a2 is not None:
        hdr["PIXAR_A2"] = (pixar_a2, "Nominal pixel area in arcsec^2")
    match_nans_and_flags(image.data, image.dq, image.err, image.var_poisson, image.var_rnoise,
                         image.var_flat)
    return image, StepReport(note=note)
