"""photom for 2-D spectral images (MIRI LRS, NIRCam/NIRISS grisms): DN/s -> MJy/sr per pixel.

The PHOTOM reference (extension ``PHOTOM``, jwst ``MirLrsPhotomModel``, ``NrcWfssPhotomModel``,
``NisWfssPhotomModel``) has one row per configuration with a scalar ``photmjsr`` and a relative
response curve ``wavelength``/``relresponse`` (the first ``nelem`` entries).  Rows are keyed by

============================ =====================================================
mode                         key columns
============================ =====================================================
MIR_LRS-FIXEDSLIT/SLITLESS   filter, subarray (then subarray GENERIC)
NRC_WFSS, NRC_TSGRISM        filter, pupil, order
NIS_WFSS                     filter, pupil, order
============================ =====================================================

As jwst 3.0 ``photom_io``: the curve is sorted by wavelength (metres become um when its maximum
is below 1e-4), interpolated linearly at each pixel's wavelength, with no extrapolation; a pixel
without wavelength (NaN) or outside the curve gets no calibration (NaN and DO_NOT_USE).  The
conversion is ``C = photmjsr * relresponse(lambda) [/ time factor]``; for the grism modes the
response in the file has the dispersion factored out, so ``C`` is divided by ``|d lambda / d px|``
(um/px) along the dispersion axis, computed with ``np.gradient`` of the wavelength map in which
NaN was first replaced by -1, as jwst does (so the one pixel at each end of a trace inherits a
wrong dispersion; kept for agreement).  Then ``SCI, ERR *= C``, ``VAR_* *= C^2`` (every plane of a
rateints), BUNIT is MJy/sr and the SCI header gets PHOTMJSR/PHOTUJA2 (the scalar after the time
factor) and PIXAR_SR/PIXAR_A2.

Source type: in jwst 3.0 the LRS and grism outputs are MJy/sr for POINT and EXTENDED alike (the
point-source conversion to flux happens in extract_1d); only NIRSpec and SOSS use PHOTMJ, which is
not handled here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..errors import NotImplementedStepError, ReferenceFileError
from ..models import ImageModel
from ..refs.model import RefData
from ._common import match_nans_and_flags
from ._spectral import GRISM_EXP_TYPES, dispersion_axis, wavelength_map
from .photom import MJSR_TO_UJA2, _attach_area, _column, _matches, _mid_mjd, _pixel_area, time_correction
from .base import StepReport, skipped

__all__ = ["SPECTRAL_EXP_TYPES", "ResponseCurve", "row_keys", "response_curve", "dispersion_map",
           "conversion_map", "apply_spectral_conversion_inplace", "run"]

#: EXP_TYPEs calibrated here.
SPECTRAL_EXP_TYPES = frozenset({"MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS"}) | GRISM_EXP_TYPES - {"MIR_WFSS"}
_METRES_LIMIT = 1.0e-4  # a curve whose largest wavelength is below 100 um (in m) is in metres


@dataclass(frozen=True)
class ResponseCurve:
    """One PHOTOM row.

    Attributes
    ----------
    row : int
        Row index in the PHOTOM table.
    photmjsr : float
        Scalar conversion, (MJy/sr)/(DN/s); for the grisms (MJy um/sr)/(DN/s).
    wavelength : ndarray, float64
        Strictly increasing, um.
    relresponse : ndarray, float64
        Relative response at ``wavelength``, dimensionless.
    """

    row: int
    photmjsr: float
    wavelength: np.ndarray
    relresponse: np.ndarray


def row_keys(exp_type: str, filter_name: str, pupil: str, subarray: str, order: int | None) -> list[dict[str, str]]:
    """The key sets to try, in order, to find an exposure's PHOTOM row (module table).

    Raises
    ------
    NotImplementedStepError
        A mode not handled here, or a grism image without its order.

    Examples
    --------
    >>> row_keys("MIR_LRS-SLITLESS", "P750L", "N/A", "SLITLESSPRISM", None)
    [{'filter': 'P750L', 'subarray': 'SLITLESSPRISM'}, {'filter': 'P750L', 'subarray': 'GENERIC'}]
    """
    if exp_type.startswith("MIR_LRS"):
        return [{"filter": filter_name, "subarray": subarray}, {"filter": filter_name, "subarray": "GENERIC"}]
    if exp_type in GRISM_EXP_TYPES:
        if order is None:
            # jwst calibrates the extract_2d cutouts (one order each), never the dispersed frame
            raise NotImplementedStepError(f"photom for {exp_type} needs an extract_2d cutout with its spectral "
                                          "order (SPORDER); the full dispersed frame is not calibrated")
        return [{"filter": filter_name, "pupil": pupil, "order": str(int(order))}]
    raise NotImplementedStepError(f"spectroscopic photom for {exp_type} is not implemented")


def response_curve(table: np.ndarray, keys_list: list[dict[str, str]]) -> ResponseCurve | None:
    """The row matching the first key set that matches one, as a :class:`ResponseCurve`.

    Raises
    ------
    ReferenceFileError
        More than one row matches, or the table has no ``photmjsr``/``wavelength``/``relresponse``.
    """
    for keys in keys_list:
        rows = np.flatnonzero(_matches(table, keys))
        if len(rows) > 1:
            raise ReferenceFileError(f"PHOTOM table: {len(rows)} rows match {keys}")
        if len(rows) == 1:
            return _curve(table, int(rows[0]))
    return None


def _curve(table: np.ndarray, row: int) -> ResponseCurve:
    columns = {name: _column(table, name) for name in ("photmjsr", "wavelength", "relresponse", "nelem")}
    for name in ("photmjsr", "wavelength", "relresponse"):
        if columns[name] is None:
            raise ReferenceFileError(f"spectroscopic PHOTOM table has no {name!r} column")
    waves = np.array(columns["wavelength"][row], np.float64)
    resp = np.array(columns["relresponse"][row], np.float64)
    if columns["nelem"] is not None:
        n = int(columns["nelem"][row])
        waves, resp = waves[:n], resp[:n]
    if not np.all(np.diff(waves) > 0):
        order = np.argsort(waves)
        waves, resp = waves[order], resp[order]
    if 0.0 < waves.max() < _METRES_LIMIT:
        waves = waves * 1.0e6
    return ResponseCurve(row, float(columns["photmjsr"][row]), waves, resp)


def dispersion_map(wavelength: np.ndarray, axis: int) -> np.ndarray:
    """``d lambda / d pixel`` (um/px) along the dispersion axis (1: x, 2: y), by ``np.gradient``.

    Parameters
    ----------
    wavelength : ndarray, (ny, nx)
        um, NaN already replaced (jwst uses -1).

    Examples
    --------
    >>> dispersion_map(np.array([[1.0, 1.5, 2.5]]), 1).tolist()
    [[0.5, 0.75, 1.0]]
    """
    if axis not in (1, 2):
        raise ValueError(f"dispersion axis must be 1 or 2, not {axis}")
    return np.gradient(wavelength, axis=1 if axis == 1 else 0)


def conversion_map(wavelength: np.ndarray, curve: ResponseCurve, scalar: float,
                   dispaxis: int | None = None) -> np.ndarray:
    """Per-pixel conversion (MJy/sr)/(DN/s); NaN where no calibration applies.

    Parameters
    ----------
    wavelength : ndarray, float, (ny, nx)
        um; NaN off the slit/trace.
    curve : ResponseCurve
        The PHOTOM row.
    scalar : float
        ``photmjsr`` after any time factor.
    dispaxis : int or None
        For the grism modes: divide by the dispersion along this axis (1: x, 2: y).

    Examples
    --------
    >>> c = ResponseCurve(0, 2.0, np.array([1.0, 3.0]), np.array([1.0, 3.0]))
    >>> conversion_map(np.array([[2.0, np.nan, 4.0]]), c, 2.0).tolist()
    [[4.0, nan, nan]]
    """
    wl = np.where(np.isnan(wavelength), -1.0, wavelength)  # jwst's NaN stand-in (also for gradient)
    response = np.interp(wl, curve.wavelength, curve.relresponse, left=np.nan, right=np.nan)
    if dispaxis is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            response = response / np.abs(dispersion_map(wl, dispaxis))
    return scalar * response


def apply_spectral_conversion_inplace(image: ImageModel, conversion: np.ndarray) -> None:
    """``SCI, ERR *= C``, ``VAR_* *= C^2`` (broadcast over rateints planes); DO_NOT_USE and NaN
    where C is NaN.

    Examples
    --------
    >>> from astropy.io import fits
    >>> im = ImageModel(None, fits.Header(), np.ones((1, 2), np.float32), np.ones((1, 2), np.float32),
    ...                 np.zeros((1, 2), np.uint32))
    >>> apply_spectral_conversion_inplace(im, np.array([[3.0, np.nan]]))
    >>> im.data.tolist(), im.dq.tolist()
    ([[3.0, nan]], [[0, 1]])
    """
    no_cal = np.isnan(conversion)
    c = np.where(no_cal, 0.0, conversion)
    image.data *= c
    image.err *= c
    for var in (image.var_poisson, image.var_rnoise, image.var_flat):
        if var is not None:
            var *= c * c
    image.dq[..., no_cal] |= np.uint32(dqflags.DO_NOT_USE)
    match_nans_and_flags(image.data, image.dq, image.err, image.var_poisson, image.var_rnoise,
                         image.var_flat)


def _order(image: ImageModel) -> int | None:
    for header in (image.sci_header, image.header):
        if header.get("SPORDER") is not None:
            return int(header["SPORDER"])
    return None


def run(image: ImageModel, refs: Mapping[str, RefData], params, *,
        wavelength: np.ndarray | None = None) -> tuple[ImageModel, StepReport]:
    """Calibrate a spectral image in place (module docstring).

    Parameters
    ----------
    image : ImageModel
        2-D rate or 3-D rateints (DN/s) with a WCS giving (ra, dec, wavelength um); a grism
        cutout carries its order in SPORDER.
    refs : mapping
        ``photom`` (required) and ``area`` (optional).
    params : photom.Params
        ``inverse`` and ``apply_time_correction``.
    wavelength : ndarray, optional
        The wavelength map (um, NaN off-trace); computed from ``image.wcs`` when absent.
    """
    m = image.meta
    if m.exp_type not in SPECTRAL_EXP_TYPES:
        raise NotImplementedStepError(f"photom for {m.exp_type} (spectroscopic) is not implemented")
    if params.inverse:
        raise NotImplementedStepError("photom inverse=True for spectra is not implemented")
    ref = refs["photom"]
    table = ref.tables.get("PHOTOM")
    if table is None:
        raise ReferenceFileError(f"photom reference {ref.name} has no PHOTOM table")
    curve = response_curve(table, row_keys(m.exp_type, m.filter, m.pupil, m.subarray,
                                           _order(image) if m.exp_type in GRISM_EXP_TYPES else None))
    if curve is None:
        return image, skipped(f"no PHOTOM row for FILTER={m.filter} PUPIL={m.pupil} SUBARRAY={m.subarray}")
    scalar = curve.photmjsr
    timed = any(k.startswith("TIMECOEFF_") for k in ref.tables)
    if timed and params.apply_time_correction:
        mjd = _mid_mjd(image)
        if mjd is None:
            raise ReferenceFileError(f"{ref.name} has time-dependence tables but the exposure has no EXPMID")
        scalar /= time_correction(ref.tables, curve.row, mjd)
    if wavelength is None:
        wavelength = wavelength_map(image.wcs, image.data.shape)
    dispaxis = dispersion_axis(m.exp_type, m.filter, m.pupil) if m.exp_type in GRISM_EXP_TYPES else None
    conversion = conversion_map(wavelength, curve, scalar, dispaxis)
    pixar_sr, pixar_a2 = _pixel_area(refs, ref)
    _attach_area(image, refs)
    apply_spectral_conversion_inplace(image, conversion)
    image.bunit = "MJy/sr"
    hdr = image.sci_header
    hdr["PHOTMJSR"] = (scalar, "Flux density (MJy/steradian) producing 1 cps")
    hdr["PHOTUJA2"] = (scalar * MJSR_TO_UJA2, "Flux density (uJy/arcsec2) producing 1 cps")
    if pixar_sr is not None:
        hdr["PIXAR_SR"] = (pixar_sr, "Nominal pixel area in steradians")
    if pixar_a2 is not None:
        hdr["PIXAR_A2"] = (pixar_a2, "Nominal pixel area in arcsec^2")
    ncal = int(np.isfinite(conversion).sum())
    return image, StepReport(note=f"PHOTMJSR {scalar:.6g} x relresponse(lambda) (row {curve.row})"
                                  f"{' / dispersion' if dispaxis else ''}; {ncal} pixels calibrated")
