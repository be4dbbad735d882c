"""Builders shared by the stage-3 imaging tests (resample, skymatch, outlier_detection, image3):
calibrated images of a star field rendered through distortion-free imaging gwcs's
(streamcal.wcs.imaging_wcs), with exactly known truth."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from astropy.io import fits
from scipy.special import erf

from streamcal.models import ExposureMeta, ImageModel
from streamcal.wcs import Pointing, imaging_wcs

#: NIRCam short-wave pixel scale, arcsec.
SCALE = 0.031
#: A pointing in the LMC (high |Dec| makes RA/Dec mistakes visible).
POINTING = Pointing(ra_ref=80.0, dec_ref=-69.5, v2_ref=86.1, v3_ref=-493.2, roll_ref=30.0)


def offset_pointing(dx_arcsec: float = 0.0, dy_arcsec: float = 0.0, droll_deg: float = 0.0,
                    base: Pointing = POINTING) -> Pointing:
    """``base`` moved by (dx, dy) arcsec along RA*cos(Dec) and Dec, and rolled by ``droll``."""
    cos_dec = math.cos(math.radians(base.dec_ref))
    return base.moved(ra_ref=base.ra_ref + dx_arcsec / 3600.0 / cos_dec,
                      dec_ref=base.dec_ref + dy_arcsec / 3600.0, roll_ref=base.roll_ref + droll_deg)


def gaussian_image(shape, x0, y0, flux, sigma) -> np.ndarray:
    """A pixel-integrated circular Gaussian (total ``flux`` over the plane) centred at 0-based
    (x0, y0): exact pixel integrals via erf, so the first moment is exactly (x0, y0)."""
    ny, nx = shape
    edges_x = (np.arange(nx + 1) - 0.5 - x0) / (math.sqrt(2) * sigma)
    edges_y = (np.arange(ny + 1) - 0.5 - y0) / (math.sqrt(2) * sigma)
    px = 0.5 * np.diff(erf(edges_x))
    py = 0.5 * np.diff(erf(edges_y))
    return flux * np.outer(py, px)


def star_pixels(wcs, stars) -> list[tuple[float, float, float]]:
    """(x, y, flux) of (ra, dec, flux) stars in an image (one vectorised inverse; stars off the
    edge are kept: their wings still spill in)."""
    if not len(stars):
        return []
    ra, dec, flux = (np.array(c, float) for c in zip(*stars))
    x, y = wcs.invert(ra, dec, with_bounding_box=False)
    return [(float(a), float(b), float(f)) for a, b, f in zip(np.atleast_1d(x), np.atleast_1d(y), flux)]


def meta(name: str) -> ExposureMeta:
    return ExposureMeta(filename=name, instrument="NIRCAM", detector="NRCA1", exp_type="NRC_IMAGE",
                        nints=1, ngroups=5, nframes=1, groupgap=0, tframe=10.7, tgroup=10.7)


#: Primary-header keywords read_cal and the reference selection need (a NIRCam F200W image).
EXPOSURE_KEYS = {"INSTRUME": "NIRCAM", "DETECTOR": "NRCA1", "EXP_TYPE": "NRC_IMAGE", "NINTS": 1,
                 "NGROUPS": 5, "NFRAMES": 1, "GROUPGAP": 0, "TFRAME": 10.7, "TGROUP": 10.7,
                 "FILTER": "F200W", "PUPIL": "CLEAR", "SUBARRAY": "FULL", "DATE-OBS": "2024-01-01",
                 "TIME-OBS": "00:00:00"}


def cal_image(pointing: Pointing = POINTING, shape=(160, 180), *, stars=(), sky: float = 0.0,
              noise: float = 0.0, rng=None, name: str = "img_cal.fits", psf_sigma: float = 1.2,
              exposure: int = 1, var_poisson: float = 0.0, true_pointing: Pointing | None = None) -> ImageModel:
    """A 2-D ``cal`` image (MJy/sr) seen through ``pointing``.

    ``stars`` are (ra, dec, peak-integrated flux in MJy/sr x pixel) tuples, placed with the
    WCS of ``true_pointing`` (default: ``pointing``, i.e. a perfect header WCS); ``noise`` is
    the Gaussian sigma (VAR_RNOISE = noise^2, ERR consistent).
    """
    wcs = imaging_wcs(pointing, shape=shape, pixel_scale=SCALE)
    true_wcs = wcs if true_pointing is None else imaging_wcs(true_pointing, shape=shape, pixel_scale=SCALE)
    data = np.full(shape, sky, np.float64)
    for x, y, flux in star_pixels(true_wcs, stars):
        data += gaussian_image(shape, x, y, flux, psf_sigma)
    if noise:
        data += (rng or np.random.default_rng(0)).normal(0.0, noise, shape)
    var_rn = np.full(shape, max(noise, 1e-3) ** 2, np.float32)
    var_p = np.full(shape, var_poisson, np.float32)
    header = fits.Header({"FILENAME": name, "PROGRAM": "01234", "OBSERVTN": "001", "VISIT": "001",
                          "VISITGRP": "01", "SEQ_ID": "1", "ACT_ID": "01", "EXPOSURE": str(exposure),
                          "EFFEXPTM": 100.0, **EXPOSURE_KEYS})
    return ImageModel(meta=meta(name), header=header, data=data.astype(np.float32),
                      err=np.sqrt(var_rn + var_p), dq=np.zeros(shape, np.uint32), var_poisson=var_p,
                      var_rnoise=var_rn, var_flat=np.zeros(shape, np.float32),
                      sci_header=fits.Header(pointing.to_cards()), bunit="MJy/sr", wcs=wcs)


def star_field(n: int, center: Pointing = POINTING, radius_arcsec: float = 1.8, seed: int = 1,
               flux=(50.0, 500.0), min_sep_arcsec: float = 0.0) -> list[tuple[float, float, float]]:
    """``n`` stars (ra, dec, flux) scattered within ``radius`` of the pointing centre, no two
    closer than ``min_sep_arcsec`` (tweakreg ignores sources within 1" of each other)."""
    rng = np.random.default_rng(seed)
    cos_dec = math.cos(math.radians(center.dec_ref))
    xy: list[tuple[float, float]] = []
    for _ in range(200 * n):
        if len(xy) == n:
            break
        p = rng.uniform(-radius_arcsec, radius_arcsec, 2)
        if all(math.hypot(p[0] - q[0], p[1] - q[1]) >= min_sep_arcsec for q in xy):
            xy.append((float(p[0]), float(p[1])))
    fluxes = rng.uniform(*flux, len(xy))
    return [(center.ra_ref + x / 3600.0 / cos_dec, center.dec_ref + y / 3600.0, f)
            for (x, y), f in zip(xy, fluxes)]


def dither(n: int = 4, step_arcsec: float = 0.35, pointing_errors=None, **kwargs) -> list[ImageModel]:
    """``n`` exposures of one field on a small dither pattern (distinct exposure numbers).

    ``pointing_errors``: per exposure (dx, dy) arcsec by which the header pointing misses the
    true one (the stars are rendered at the true pointing)."""
    offsets = [(0, 0), (1, 0.3), (0.2, 1), (1.1, 1.2), (0.6, -0.4), (-0.5, 0.6)]
    images = []
    for k in range(n):
        dx, dy = offsets[k % len(offsets)]
        true = offset_pointing(dx * step_arcsec, dy * step_arcsec)
        ex, ey = pointing_errors[k] if pointing_errors is not None else (0.0, 0.0)
        images.append(cal_image(offset_pointing(ex, ey, base=true), true_pointing=true,
                                name=f"jw01234001001_01101_{k + 1:05d}_nrca1_cal.fits",
                                exposure=k + 1, rng=np.random.default_rng(100 + k), **kwargs))
    return images


def inject_crs(images, stars, per_image=40, seed=11, clearance=6.0):
    """Single-pixel hits of 1-100 MJy/sr (20-2000 sigma of 0.05) at random pixels at least
    ``clearance`` pixels from every star (rendered position); returns their masks."""
    rng = np.random.default_rng(seed)
    masks = []
    for image in images:
        ny, nx = image.data.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        allowed = np.zeros((ny, nx), bool)
        allowed[2:-2, 2:-2] = True
        for x, y, _flux in star_pixels(image.wcs, stars):
            allowed &= (xx - x) ** 2 + (yy - y) ** 2 > clearance ** 2
        pick = rng.choice(np.flatnonzero(allowed), per_image, replace=False)
        mask = np.zeros((ny, nx), bool)
        mask.flat[pick] = True
        image.data[mask] += rng.uniform(1.0, 100.0, per_image).astype(np.float32)
        masks.append(mask)
    return masks


def with_header(model: ImageModel, **cards) -> ImageModel:
    """A copy of ``model`` with primary-header cards added."""
    header = model.header.copy()
    header.update(cards)
    return replace(model, header=header)
