"""tso_photometry: circular-aperture photometry of the target of an imaging time series, one
row per integration (jwst 3.0 ``TSOPhotometryStep``; spectroscopy.md §5).

1. Units: MJy/sr data and errors x ``1e6 * PIXAR_SR`` -> Jy; DN/s x ``EFFINTTM * gain`` ->
   electron (the gain reference, cut to the subarray); anything else is kept as it is.
2. The planned position is (XREF_SCI - 1, YREF_SCI - 1) (0-based pixels).
3. With ``centroid_source``: in every integration the background (the median of the pixels
   farther than ``radius_inner`` from the guess) is subtracted and photutils'
   ``centroid_sources`` (centre of mass) runs on a ``search_box_width`` box; the median of
   those centroids is the new guess, and a second pass on a ``fit_box_width`` box gives the
   final centroids, where a photutils ``GaussianPRF`` (position fixed) fitted by
   ``PSFPhotometry`` also yields the PSF widths (1 sigma) and flux.  Pixels with DO_NOT_USE or
   NaN are masked.  The aperture is centred on the median centroid (or on each integration's
   centroid with ``moving_centroid``; on the planned position if every centroid failed).
4. photutils ``ApertureStats`` sums (exact overlap, NaN pixels excluded) over a circle of
   ``radius`` and an annulus ``radius_inner``-``radius_outer``; the background in the aperture
   is the annulus mean x the aperture's valid area.  NIRCam SUB64P with the WLP8 pupil, whose
   aperture overfills the subarray, uses the sum of the whole frame and no background.
5. Times: ``int_mid_MJD_UTC`` and ``int_mid_BJD_TDB`` of INT_TIMES rows INTSTART...

The result is :class:`TsoPhotometry`, whose :meth:`~TsoPhotometry.table` has the columns,
units and metadata of jwst's ``_phot.ecsv``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Mapping

import astropy.units as u
import numpy as np
from astropy.stats import gaussian_fwhm_to_sigma
from astropy.table import QTable
from photutils.aperture import ApertureStats, CircularAnnulus, CircularAperture
from photutils.centroids import centroid_sources
from photutils.psf import GaussianPRF, PSFPhotometry
from photutils.utils import CutoutImage

from .. import dqflags
from ..models import ImageModel
from ._common import ref_array
from .base import StepParams, StepReport, skipped

NAME = "tso_photometry"
STATUS_KEYWORD = "S_TSPHOT"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ("gain",)  # only for DN/s input

__all__ = ["Params", "Centroids", "ApertureSums", "TsoPhotometry", "flux_scale", "planned_position", "source_centroids",
           "aperture_sums", "integration_times", "photometry", "run"]


@dataclass(frozen=True)
class Params(StepParams):
    """tso_photometry parameters (jwst names and defaults).

    Attributes
    ----------
    save_catalog : bool
        Write an exposure-level ``_phot.ecsv`` when run alone (calwebb_tso3 writes its own).
    radius : float
        Aperture radius, pixels.
    radius_inner, radius_outer : float
        Background annulus radii, pixels.
    centroid_source : bool
        Centroid the source before photometry.
    search_box_width, fit_box_width : int
        Boxes of the first and second centroid passes, pixels; even widths are rounded down.
    moving_centroid : bool
        One aperture position per integration instead of the median centroid.
    """

    save_catalog: bool = False
    radius: float = 3.0
    radius_inner: float = 4.0
    radius_outer: float = 5.0
    centroid_source: bool = True
    search_box_width: int = 41
    fit_box_width: int = 11
    moving_centroid: bool = False

    def __post_init__(self):
        if not (self.radius > 0 and 0 <= self.radius_inner < self.radius_outer):
            raise ValueError("tso_photometry: need radius > 0 and 0 <= radius_inner < radius_outer")
        if self.search_box_width < 1 or self.fit_box_width < 1:
            raise ValueError("tso_photometry: box widths must be positive")

    @property
    def boxes(self) -> tuple[int, ...]:
        """(search, fit) box widths made odd by rounding down, as jwst does."""
        return tuple(w - 1 if w % 2 == 0 else w for w in (self.search_box_width, self.fit_box_width))


@dataclass
class Centroids:
    """Per-integration source fit (0-based pixels; NaN where a fit failed).

    Attributes
    ----------
    x, y : ndarray, float64 (nints,)
        Centre-of-mass centroids of the fit-box pass, pixels.
    psf_width_x, psf_width_y : ndarray (nints,) or None
        GaussianPRF 1-sigma widths, pixels (None when the first pass found nothing).
    psf_flux : ndarray (nints,) or None
        GaussianPRF flux, data units (Jy or electron).
    """

    x: np.ndarray
    y: np.ndarray
    psf_width_x: np.ndarray | None = None
    psf_width_y: np.ndarray | None = None
    psf_flux: np.ndarray | None = None


@dataclass
class TsoPhotometry:
    """The light curve of one exposure: jwst's ``_phot.ecsv`` columns as arrays (nints,).

    Attributes
    ----------
    mjd, bjd_tdb : ndarray, float64
        Integration mid-times, MJD (UTC) and BJD_TDB (as MJD).
    aperture_sum, aperture_sum_err, annulus_sum, annulus_sum_err, annulus_mean,
    annulus_mean_err, aperture_bkg, aperture_bkg_err, net_aperture_sum, net_aperture_sum_err : ndarray
        In ``unit`` (annulus values NaN for SUB64P + WLP8).
    aperture_x, aperture_y : ndarray
        Aperture centre, 0-based pixels.
    aperture_ra, aperture_dec : ndarray
        Aperture centre, ICRS degrees.
    unit : str
        ``"Jy"``, ``"electron"`` or the input BUNIT.
    centroids : Centroids or None
        None when ``centroid_source`` is off.
    meta : dict
        instrument, detector, channel, subarray, filter, pupil, target_name, apertures.
    """

    mjd: np.ndarray
    bjd_tdb: np.ndarray
    aperture_sum: np.ndarray
    aperture_sum_err: np.ndarray
    annulus_sum: np.ndarray
    annulus_sum_err: np.ndarray
    annulus_mean: np.ndarray
    annulus_mean_err: np.ndarray
    aperture_bkg: np.ndarray
    aperture_bkg_err: np.ndarray
    net_aperture_sum: np.ndarray
    net_aperture_sum_err: np.ndarray
    aperture_x: np.ndarray
    aperture_y: np.ndarray
    aperture_ra: np.ndarray
    aperture_dec: np.ndarray
    unit: str
    centroids: Centroids | None = None
    meta: dict = field(default_factory=dict)

    def table(self) -> QTable:
        """jwst's photometry table: columns in its order and units, ``meta`` as its metadata."""
        unit, pix, deg = u.Unit(self.unit), u.pix, u.deg
        tbl = QTable(meta=dict(self.meta))
        tbl["MJD"] = self.mjd
        tbl["BJD_TDB"] = self.bjd_tdb
        for name in ("aperture_sum", "aperture_sum_err", "annulus_sum", "annulus_sum_err", "annulus_mean",
                     "annulus_mean_err", "aperture_bkg", "aperture_bkg_err", "net_aperture_sum",
                     "net_aperture_sum_err"):
            tbl[name] = getattr(self, name) << unit
        tbl["aperture_x"] = self.aperture_x << pix
        tbl["aperture_y"] = self.aperture_y << pix
        tbl["aperture_ra_icrs"] = self.aperture_ra << deg
        tbl["aperture_dec_icrs"] = self.aperture_dec << deg
        fit = self.centroids
        if fit is not None:
            tbl["centroid_x"], tbl["centroid_y"] = fit.x << pix, fit.y << pix
            if fit.psf_width_x is not None:
                tbl["psf_width_x"], tbl["psf_width_y"] = fit.psf_width_x << pix, fit.psf_width_y << pix
                tbl["psf_flux"] = fit.psf_flux << unit
        return tbl


# ------------------------------------------------------------------------------- kernels

def flux_scale(bunit: str, pixar_sr: float | None, integration_time: float | None,
               gain: np.ndarray | None) -> tuple[np.ndarray | float, str]:
    """The factor taking SCI/ERR to photometry units, and those units.

    Parameters
    ----------
    bunit : str
        SCI's BUNIT.
    pixar_sr : float or None
        Nominal pixel area, sr (PIXAR_SR).
    integration_time : float or None
        EFFINTTM, s.
    gain : ndarray or None
        Gain, electron/DN, the SCI frame's shape.

    Returns
    -------
    factor : float or ndarray
        1e6 x PIXAR_SR for MJy/sr (-> Jy); EFFINTTM x gain for DN/s (-> electron); else 1.
    unit : str

    >>> flux_scale("MJy/sr", 2e-14, None, None)
    (2e-08, 'Jy')
    """
    if bunit == "MJy/sr":
        if pixar_sr is None:
            raise ValueError("tso_photometry: MJy/sr data without PIXAR_SR")
        return 1e6 * pixar_sr, "Jy"
    if bunit == "DN/s" and gain is not None:
        if integration_time is None:
            raise ValueError("tso_photometry: DN/s data without EFFINTTM")
        return integration_time * gain, "electron"
    return 1.0, bunit


def planned_position(*headers) -> tuple[float, float]:
    """(XREF_SCI - 1, YREF_SCI - 1): the SIAF reference pixel, 0-based, from the first of
    ``headers`` (SCI, then primary) that has it.

    Raises
    ------
    ValueError
        XREF_SCI or YREF_SCI is missing (jwst refuses the exposure too).
    """
    values = []
    for key in ("XREF_SCI", "YREF_SCI"):
        found = [h[key] for h in headers if h.get(key) is not None]
        if not found:
            raise ValueError(f"tso_photometry: {key} is missing")
        values.append(float(found[0]) - 1)
    return values[0], values[1]


def _disc(shape: tuple[int, int], x: float, y: float, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (xx - x) ** 2 + (yy - y) ** 2 < radius ** 2


def _psf_fit(image: np.ndarray, mask: np.ndarray, box: int, x: float, y: float) -> tuple[float, float, float]:
    """GaussianPRF fit at fixed position (x, y) on a ``box`` cutout: (sigma_x, sigma_y, flux)."""
    guess = CutoutImage(image, (y, x), (box, box))
    guess_mask = CutoutImage(mask, (y, x), (box, box))
    flux = float(np.sum(guess.data[~guess_mask.data]))
    model = GaussianPRF(flux=flux, x_0=x, y_0=y, x_fwhm=box / 2, y_fwhm=box / 2)
    model.x_0.fixed = model.y_0.fixed = True
    model.flux.fixed = model.x_fwhm.fixed = model.y_fwhm.fixed = False  # widths are fixed by default
    model.flux.bounds = (0.0, np.inf)
    model.x_fwhm.bounds = model.y_fwhm.bounds = (0.0, box)
    init = QTable({"x": [x], "y": [y], "flux": [flux], "x_fwhm": [box / 2], "y_fwhm": [box / 2]})
    try:
        fit = PSFPhotometry(model, (box, box))(image, mask=mask, init_params=init)
    except ValueError:
        return np.nan, np.nan, np.nan
    return (gaussian_fwhm_to_sigma * float(fit["x_fwhm_fit"][0]), gaussian_fwhm_to_sigma * float(fit["y_fwhm_fit"][0]),
            float(fit["flux_fit"][0]))


def _centroid_pass(data: np.ndarray, mask: np.ndarray, x0: float, y0: float, box: int, source_radius: float,
                   fit_psf: bool) -> Centroids:
    """One centroid pass over every integration (see the module docstring, step 3)."""
    nints, ny, nx = data.shape
    out = Centroids(np.full(nints, np.nan), np.full(nints, np.nan))
    if fit_psf:
        out.psf_width_x, out.psf_width_y, out.psf_flux = (np.full(nints, np.nan) for _ in range(3))
    source = _disc((ny, nx), x0, y0, source_radius)
    for i in range(nints):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            image = data[i] - np.nanmedian(data[i][~source])
        try:
            cx, cy = centroid_sources(image, x0, y0, mask=mask[i], box_size=box)
            x, y = float(cx[0]), float(cy[0])
        except ValueError:
            continue
        if not (0 <= x < nx and 0 <= y < ny):
            continue
        out.x[i], out.y[i] = x, y
        if fit_psf:
            out.psf_width_x[i], out.psf_width_y[i], out.psf_flux[i] = _psf_fit(image, mask[i], box, x, y)
    return out


def source_centroids(data: np.ndarray, dq: np.ndarray, x0: float, y0: float, search_box: int = 41,
                     fit_box: int = 11, source_radius: float = 4.0) -> Centroids:
    """The two centroid passes of jwst (search box, then fit box with the GaussianPRF fit).

    Parameters
    ----------
    data : ndarray, float (nints, ny, nx)
        Flux per pixel (Jy or electron).
    dq : ndarray, uint32 (nints, ny, nx)
    x0, y0 : float
        Planned position, 0-based pixels.
    search_box, fit_box : int
        Odd box widths, pixels.
    source_radius : float
        Pixels within this radius of the guess are left out of the background median.

    Returns
    -------
    Centroids
        All-NaN centroids and no PSF values when the first pass finds nothing.
    """
    mask = ((dq & np.uint32(dqflags.DO_NOT_USE)) != 0) | np.isnan(data)
    first = _centroid_pass(data, mask, x0, y0, search_box, source_radius, fit_psf=False)
    if not (np.isfinite(first.x).any() and np.isfinite(first.y).any()):
        return first
    return _centroid_pass(data, mask, float(np.nanmedian(first.x)), float(np.nanmedian(first.y)), fit_box,
                         source_radius, fit_psf=True)


@dataclass
class ApertureSums:
    """Per-integration sums (nints,): aperture and annulus sums, their errors (quadrature of
    ERR) and valid areas (pixels); annulus values NaN when no annulus is used."""

    aperture: np.ndarray
    aperture_err: np.ndarray
    aperture_area: np.ndarray
    annulus: np.ndarray
    annulus_err: np.ndarray
    annulus_area: np.ndarray


def aperture_sums(data: np.ndarray, err: np.ndarray, x: np.ndarray, y: np.ndarray, radius: float,
                  radius_inner: float, radius_outer: float, whole_frame: bool = False) -> ApertureSums:
    """photutils ``ApertureStats`` sums per integration (exact overlap, NaN pixels excluded).

    Parameters
    ----------
    data, err : ndarray, float (nints, ny, nx)
    x, y : ndarray (nints,)
        Aperture centres, 0-based pixels.
    radius, radius_inner, radius_outer : float
        Pixels.
    whole_frame : bool
        Sum every pixel instead (NIRCam SUB64P + WLP8); no annulus.
    """
    n = data.shape[0]
    sums = ApertureSums(*(np.full(n, np.nan) for _ in range(6)))
    for i in range(n):
        if whole_frame:
            sums.aperture[i] = np.nansum(data[i])
            sums.aperture_err[i] = np.sqrt(np.nansum(err[i] ** 2))
            continue
        centre = (x[i], y[i])
        aper = ApertureStats(data[i], CircularAperture(centre, r=radius), error=err[i])
        ann = ApertureStats(data[i], CircularAnnulus(centre, r_in=radius_inner, r_out=radius_outer), error=err[i])
        sums.aperture[i], sums.aperture_err[i], sums.aperture_area[i] = aper.sum, aper.sum_err, aper.sum_aper_area.value
        sums.annulus[i], sums.annulus_err[i], sums.annulus_area[i] = ann.sum, ann.sum_err, ann.sum_aper_area.value
    return sums


def integration_times(int_times: np.ndarray | None, nints: int, intstart: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Mid-times of the integrations of this file: (MJD UTC, BJD_TDB as MJD).

    Raises
    ------
    ValueError
        No INT_TIMES table, or an empty one (jwst raises too).
    """
    if int_times is None or len(int_times) == 0:
        raise ValueError("tso_photometry: the input has no (or an empty) INT_TIMES table")
    offset = (intstart if intstart is not None else 1) - int(int_times["integration_number"][0])
    rows = slice(offset, offset + nints)
    return (np.asarray(int_times["int_mid_MJD_UTC"][rows], float),
            np.asarray(int_times["int_mid_BJD_TDB"][rows], float))


# ------------------------------------------------------------------------------- model

def _aperture_centres(fit: Centroids | None, x0: float, y0: float, nints: int,
                      moving: bool) -> tuple[np.ndarray, np.ndarray]:
    if fit is None or not (np.isfinite(fit.x).any() and np.isfinite(fit.y).any()):
        return np.full(nints, x0), np.full(nints, y0)
    if moving:
        return fit.x.copy(), fit.y.copy()
    return np.full(nints, np.nanmedian(fit.x)), np.full(nints, np.nanmedian(fit.y))


def _table_meta(model: ImageModel, info: str) -> dict:
    h = model.header
    return {"instrument": h.get("INSTRUME"), "detector": h.get("DETECTOR"), "channel": h.get("CHANNEL"),
            "subarray": h.get("SUBARRAY"), "filter": h.get("FILTER"), "pupil": h.get("PUPIL"),
            "target_name": h.get("TARGNAME"), "apertures": info}


def _apertures_note(params: Params, whole_frame: bool) -> str:
    if whole_frame:
        return ("Photometry measured as the sum of all values in the subarray.  "
                "No background subtraction was performed.")
    return (f"Photometry measured in a circular aperture of r={params.radius} pixels.  Background calculated "
            f"as the mean in a circular annulus with r_inner={params.radius_inner} pixels and "
            f"r_outer={params.radius_outer} pixels.")


def photometry(model: ImageModel, params: Params = Params(), gain: np.ndarray | None = None) -> TsoPhotometry:
    """tso_photometry on one ``calints``/``crfints`` cube; see the module docstring.

    Parameters
    ----------
    model : ImageModel
        3-D cube (SCI/ERR in MJy/sr or DN/s), with INT_TIMES and XREF_SCI/YREF_SCI in the SCI
        (or primary) header; ``wcs`` gives the aperture's sky position (NaN without one).
    params : Params
    gain : ndarray, optional
        electron/DN (ny, nx), used for DN/s data.

    Raises
    ------
    ValueError
        Not a cube, XREF_SCI/YREF_SCI or INT_TIMES missing.
    """
    if model.data.ndim != 3:
        raise ValueError(f"tso_photometry needs a 3-D cube, got shape {model.data.shape}")
    x0, y0 = planned_position(model.sci_header, model.header)
    pixar = model.sci_header.get("PIXAR_SR", model.header.get("PIXAR_SR"))
    factor, unit = flux_scale(model.bunit, pixar, model.header.get("EFFINTTM"), gain)
    data = model.data * np.asarray(factor, np.float32)  # float32, as jwst scales its arrays in place
    err = model.err * np.asarray(factor, np.float32)
    nints = data.shape[0]
    fit = None
    if params.centroid_source:
        search, box = params.boxes
        fit = source_centroids(data, model.dq, x0, y0, search, box, params.radius_inner)
    x, y = _aperture_centres(fit, x0, y0, nints, params.moving_centroid)
    whole = str(model.header.get("PUPIL", "")).strip() == "WLP8" and str(model.header.get("SUBARRAY")) == "SUB64P"
    sums = aperture_sums(data, err, x, y, params.radius, params.radius_inner, params.radius_outer, whole)
    mjd, bjd = integration_times(model.int_times, nints, model.header.get("INTSTART"))
    return _assemble(sums, mjd, bjd, x, y, _sky(model, x, y), unit, fit,
                     _table_meta(model, _apertures_note(params, whole)), whole)


def _sky(model: ImageModel, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if model.wcs is None:
        return np.full(x.shape, np.nan), np.full(x.shape, np.nan)
    ra, dec = model.wcs(x, y)
    return np.asarray(ra, float), np.asarray(dec, float)


def _assemble(sums: ApertureSums, mjd, bjd, x, y, sky, unit: str, fit: Centroids | None, meta: dict,
              whole: bool) -> TsoPhotometry:
    """The table's columns from the sums: annulus mean, background in the aperture, net sum."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean, mean_err = sums.annulus / sums.annulus_area, sums.annulus_err / sums.annulus_area
    bkg, bkg_err = mean * sums.aperture_area, mean_err * sums.aperture_area
    net, net_err = sums.aperture - bkg, np.sqrt(sums.aperture_err ** 2 + bkg_err ** 2)
    if whole:
        net, net_err = sums.aperture, sums.aperture_err
    return TsoPhotometry(mjd, bjd, sums.aperture, sums.aperture_err, sums.annulus, sums.annulus_err, mean, mean_err,
                         bkg, bkg_err, net, net_err, x, y, sky[0], sky[1], unit, fit, meta)


def run(model: ImageModel, refs: Mapping, params: Params = Params()) -> tuple[TsoPhotometry | None, StepReport]:
    """Step adapter: the light curve of one cube (``refs`` may hold the gain reference).

    Returns
    -------
    photometry : TsoPhotometry or None
        None when skipped.
    report : StepReport
    """
    if params.skip:
        return None, skipped("skipped by parameter")
    gain = None
    if model.bunit == "DN/s" and refs.get("gain") is not None:
        gain = ref_array(refs["gain"], "SCI", model.data.shape[-2:], ndim=(2,))
    result = photometry(model, params, gain)
    where = f"aperture at x={np.nanmedian(result.aperture_x):.3f}, y={np.nanmedian(result.aperture_y):.3f}"
    return result, StepReport(note=f"{len(result.mjd)} integrations in {result.unit}; {where}")
