"""Box extraction of a 2-D (or per-integration 3-D) spectral image into :class:`Spectrum` rows.

jwst 3.0's ``extract_1d`` box method for slit-like data (MIRI LRS fixed slit and slitless,
NIRCam/NIRISS grism cutouts):

1. NaN and DO_NOT_USE are made to agree (the pixel is NaN in every array);
2. the aperture is shifted to the source (``use_source_posn``: by the caller's source
   location minus the nominal aperture centre) and by ``position_offset``;
3. aperture weights (:func:`.profile.box_profile`), zero where the wavelength is NaN;
4. per integration: optional background fit on the ``bkg_coeff`` regions, weighted sums;
5. units: the sum of MJy/sr pixels × pixel solid angle (sr) × 10⁶ is FLUX in Jy, the mean
   over the aperture is SURF_BRIGHT (MJy/sr) -- both always, whatever the source type; the
   background is a mean per pixel; uncalibrated input stays in DN/s;
6. WAVELENGTH is the aperture-weighted mean of the wavelength image; samples with no
   finite wavelength are dropped; DQ is DO_NOT_USE where FLUX is NaN;
7. point sources: the aperture correction, when one is given.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np

from ... import dqflags
from ...spectra.model import Spectrum, SpectrumMeta
from .._common import match_nans_and_flags
from .apcorr import ApertureCorrection
from .box import box_sums, fit_background
from .params import HORIZONTAL, ExtractParams
from .profile import ApertureLimits, aperture_center, box_profile

__all__ = ["Extraction", "extract_slit"]


@dataclass(frozen=True)
class Extraction:
    """The spectra of one slit (one per integration; one for 2-D input), the aperture
    (weights, limits, centre (x, y) in pixels -- the caller's WCS gives SLIT_RA/SLIT_DEC
    there) and the parameters as applied (shifted)."""

    spectra: tuple[Spectrum, ...]
    profile: np.ndarray
    limits: ApertureLimits
    center: tuple[float, float]
    params: ExtractParams


def _mean_wavelength(wavelength: np.ndarray, profile: np.ndarray, dispaxis: int) -> np.ndarray:
    mask = np.isnan(wavelength) | (profile <= 0)
    axis = 0 if dispaxis == HORIZONTAL else 1
    wl = np.ma.masked_array(wavelength, mask=mask)
    return np.ma.average(wl, weights=np.ma.masked_array(profile, mask=mask), axis=axis).filled(np.nan)


def _aperture(shape, params: ExtractParams, wavelength, trace, source_location, middle_pix):
    if params.use_source_posn and source_location is not None:
        nominal, _, _ = box_profile(shape, params, wavelength)
        nominal_centre, _ = aperture_center(nominal, params.dispaxis, middle_pix=middle_pix)
        params = params.shifted(source_location - nominal_centre)
    if params.position_offset:
        params = params.shifted(params.position_offset)
        trace = None if trace is None else trace + params.position_offset
    profile, lower, upper = box_profile(shape, params, wavelength, trace=trace)
    profile[~np.isfinite(wavelength)] = 0.0
    used = np.flatnonzero(np.sum(profile, axis=params.dispaxis - 1) > 0)
    limits = ApertureLimits(lower, upper, int(used[0]) if used.size else None, int(used[-1]) if used.size else None)
    bg = None
    if params.subtract_background and params.bkg_coeff is not None:
        bg, _, _ = box_profile(shape, params, wavelength, background=True)
    return params, profile, bg, limits


def _extraction_meta(meta: SpectrumMeta, params: ExtractParams, limits: ApertureLimits,
                     calibrated: bool) -> SpectrumMeta:
    """EXTRXSTR... as jwst writes them: 1-based, the dispersion limits from the non-zero weights."""
    first = None if limits.first is None else limits.first + 1
    last = None if limits.last is None else limits.last + 1
    lo, hi = limits.lower + 1, limits.upper + 1
    if params.dispaxis == HORIZONTAL:
        window = dict(extraction_xstart=first, extraction_xstop=last, extraction_ystart=lo, extraction_ystop=hi)
    else:
        window = dict(extraction_xstart=lo, extraction_xstop=hi, extraction_ystart=first, extraction_ystop=last)
    return replace(meta, spectral_order=params.spectral_order, dispersion_direction=params.dispaxis,
                   calibrated=calibrated, **window)


def _oriented(a: np.ndarray | None, like: np.ndarray, dispaxis: int) -> np.ndarray:
    a = np.zeros_like(like) if a is None or a.shape != like.shape else a
    return a.astype(np.float64) if dispaxis == HORIZONTAL else a.T.astype(np.float64)


def _one(image, var_p, var_r, var_f, profile, bg_profile, params: ExtractParams):
    """Sums of one 2-D image in detector orientation."""
    t = (lambda a: a) if params.dispaxis == HORIZONTAL else (lambda a: None if a is None else a.T)
    img = _oriented(image, image, params.dispaxis)
    vp, vr, vf = (_oriented(v, image, params.dispaxis) for v in (var_p, var_r, var_f))
    prof, bgp = t(profile), t(bg_profile)
    background = None
    if bgp is not None:
        background = fit_background(img, prof, bgp, vp, vr, vf, fit=params.bkg_fit, order=params.bkg_order,
                                    smoothing_length=params.smoothing_length)
    return box_sums(img, prof, vp, vr, vf, background)


def _to_spectrum(sums, wavelength, valid, meta: SpectrumMeta, *, calibrated: bool, pixel_solid_angle: float,
                 input_mjy: bool) -> Spectrum:
    npix = np.where(sums.npixels > 0, sums.npixels, 1.0)
    sb = sums.flux / npix
    sb_var = [v / npix**2 for v in (sums.var_poisson, sums.var_rnoise, sums.var_flat)]
    bkg = sums.background / npix
    bkg_var = [v / npix**2 for v in (sums.bkg_var_poisson, sums.bkg_var_rnoise, sums.bkg_var_flat)]
    f_var = [sums.var_poisson, sums.var_rnoise, sums.var_flat]
    flux = sums.flux
    if calibrated and input_mjy:  # NIRSpec point sources: photom gave MJy per pixel
        flux, f_var = flux * 1e6, [v * 1e12 for v in f_var]
        sb, sb_var = np.zeros_like(sb), [np.zeros_like(v) for v in sb_var]
        bkg, bkg_var = bkg / pixel_solid_angle, [v / pixel_solid_angle**2 for v in bkg_var]
    elif calibrated:  # MJy/sr summed over pixels of solid angle Ω: Jy = 1e6 MJy
        flux, f_var = flux * pixel_solid_angle * 1e6, [v * pixel_solid_angle**2 * 1e12 for v in f_var]
    dq = np.where(np.isnan(flux), np.uint32(dqflags.DO_NOT_USE), np.uint32(0))
    cols = {"WAVELENGTH": wavelength, "FLUX": flux, "FLUX_ERROR": np.sqrt(sum(f_var)),
            "FLUX_VAR_POISSON": f_var[0], "FLUX_VAR_RNOISE": f_var[1], "FLUX_VAR_FLAT": f_var[2],
            "SURF_BRIGHT": sb, "SB_ERROR": np.sqrt(sum(sb_var)), "SB_VAR_POISSON": sb_var[0],
            "SB_VAR_RNOISE": sb_var[1], "SB_VAR_FLAT": sb_var[2], "DQ": dq, "BACKGROUND": bkg,
            "BKGD_ERROR": np.sqrt(sum(bkg_var)), "BKGD_VAR_POISSON": bkg_var[0], "BKGD_VAR_RNOISE": bkg_var[1],
            "BKGD_VAR_FLAT": bkg_var[2], "NPIXELS": sums.npixels}
    return Spectrum.from_columns({k: np.asarray(v)[valid] for k, v in cols.items()}, meta)


def _apply_apcorr(spec: Spectrum, apcorr: ApertureCorrection) -> Spectrum:
    f = apcorr.factors(spec.wavelength, spec.npixels)
    scaled = {name: spec.column(name) * f for name in ("FLUX", "FLUX_ERROR", "SURF_BRIGHT", "SB_ERROR")}
    for name in ("FLUX_VAR_POISSON", "FLUX_VAR_RNOISE", "FLUX_VAR_FLAT", "SB_VAR_POISSON", "SB_VAR_RNOISE",
                 "SB_VAR_FLAT"):
        scaled[name] = spec.column(name) * f * f
    return replace(spec, **{k.lower(): v for k, v in scaled.items()})


def extract_slit(data: np.ndarray, dq: np.ndarray | None, var_poisson: np.ndarray | None,
                 var_rnoise: np.ndarray | None, var_flat: np.ndarray | None, wavelength: np.ndarray,
                 params: ExtractParams, *, pixel_solid_angle: float | None = None, calibrated: bool = True,
                 source_type: str | None = None, source_location: float | None = None,
                 middle_pix: int | None = None, trace: np.ndarray | None = None,
                 apcorr: ApertureCorrection | None = None, input_mjy: bool = False,
                 meta: SpectrumMeta | None = None) -> Extraction:
    """Box-extract one slit.

    Parameters
    ----------
    data : ndarray, (ny, nx) or (nint, ny, nx)
        SCI, MJy/sr after photom (``calibrated``), else DN/s.  A 3-D array gives one spectrum
        per integration.
    dq : ndarray of uint32 or None
        DQ, same shape; DO_NOT_USE pixels are excluded (set to NaN in a copy).
    var_poisson, var_rnoise, var_flat : ndarray or None
        Variances (units²), same shape as ``data``; None or another shape: zeros.
    wavelength : ndarray, (ny, nx), µm
        Wavelength of every pixel, NaN off the trace (the caller evaluates the WCS).
    params : ExtractParams
        From :func:`.params.aperture_params`.
    pixel_solid_angle : float
        PIXAR_SR (sr); required when ``calibrated``.
    calibrated : bool
        Whether photom ran (units Jy, MJy/sr) or not (DN/s everywhere).
    source_type : str, optional
        POINT gets the aperture correction.
    source_location, middle_pix : float, int, optional
        Cross-dispersion source position at dispersion pixel ``middle_pix``, used when
        ``params.use_source_posn``.
    trace : ndarray, optional
        Cross-dispersion centre per dispersion pixel, for ``extract_width`` apertures.
    apcorr : ApertureCorrection, optional
        From :func:`.apcorr.select_apcorr`.
    input_mjy : bool
        Data are MJy per pixel (NIRSpec point sources), not MJy/sr.
    meta : SpectrumMeta, optional
        Slit name, source id ... copied into every spectrum (extraction window and order set here).

    Returns
    -------
    Extraction

    Raises
    ------
    ValueError
        No finite wavelength under the aperture, or a calibrated input without pixel solid angle.
    """
    if data.ndim not in (2, 3):
        raise ValueError(f"extract_slit: data must be 2-D or 3-D, got {data.shape}")
    if calibrated and pixel_solid_angle is None:
        raise ValueError("extract_slit: calibrated data need the pixel solid angle (PIXAR_SR)")
    data = np.array(data, dtype=np.float32)
    variances = [None if v is None or v.shape != data.shape else np.array(v, dtype=np.float32)
                 for v in (var_poisson, var_rnoise, var_flat)]
    dq = np.zeros(data.shape, np.uint32) if dq is None else np.array(dq, dtype=np.uint32)
    match_nans_and_flags(data, dq, *variances)
    shape = data.shape[-2:]
    wavelength = np.asarray(wavelength, dtype=np.float64)
    params, profile, bg_profile, limits = _aperture(shape, params, wavelength, trace, source_location, middle_pix)
    wl = _mean_wavelength(wavelength, profile, params.dispaxis)
    valid = np.isfinite(wl)
    if not valid.any():
        raise ValueError("extract_slit: no valid wavelength under the aperture")
    center_slit, center_spec = aperture_center(profile, HORIZONTAL)
    meta = _extraction_meta(meta or SpectrumMeta(), params, limits, calibrated)
    planes = [data] if data.ndim == 2 else list(data)
    var_planes = [[None] * len(planes) if v is None else ([v] if v.ndim == 2 else list(v)) for v in variances]
    spectra = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, plane in enumerate(planes):
            sums = _one(plane, var_planes[0][i], var_planes[1][i], var_planes[2][i], profile, bg_profile, params)
            spec = _to_spectrum(sums, wl, valid, meta, calibrated=calibrated,
                                pixel_solid_angle=pixel_solid_angle or 1.0, input_mjy=input_mjy)
            if apcorr is not None and (source_type or "").upper() == "POINT":
                spec = _apply_apcorr(spec, apcorr)
            spectra.append(spec)
    return Extraction(tuple(spectra), profile, limits, (center_spec, center_slit), params)
