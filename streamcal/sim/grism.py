"""Grism scenes: point sources dispersed through the SAME trace model the pipeline uses
(:func:`streamcal.wcs.grism.trace` on a SPECWCS), for NIRCam/NIRISS WFSS fields (and their
direct images) and NRC_TSGRISM transits.

A source at direct-image pixel (x0, y0) with a spectrum ``rate(lambda)`` (e-/s per um)
deposits, per spectral order, ``rate(lambda) dlambda`` electrons/s at the trace position of
each wavelength step: the wavelength range is cut into steps of at most ``STEP_PX`` pixels
along the trace; each step's charge is split linearly between the two pixels its centre falls
between along the dispersion, and across the dispersion spread as a pixel-integrated Gaussian
of width ``sigma``.  The total of an order is therefore exactly the integral of the spectrum
(midpoint rule) wherever the trace lies on the image.  Coordinates: ``origin`` is the image's
first pixel in full-frame 0-based pixels (SUBSTRT - 1), the trace model works in full frame.

Pure numpy; the ramps, noise and file writing stay in the exposure simulator (not hooked up
here: see the module's report).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.special import erf

from ..wcs.grism import GrismSpecwcs, trace

__all__ = ["GrismSource", "STEP_PX", "render_order", "wfss_image", "direct_image", "tsgrism_cube"]

#: Largest step along the trace between two wavelength samples, pixels.
STEP_PX = 0.1


@dataclass(frozen=True)
class GrismSource:
    """A point source of a grism scene.

    Attributes
    ----------
    x0, y0 : float
        Direct-image position, full-frame 0-based pixels.
    rate : callable
        Spectrum, e-/s per um, of wavelength (um, array in, array out).
    """

    x0: float
    y0: float
    rate: Callable[[np.ndarray], np.ndarray]


def _wavelength_steps(spec: GrismSpecwcs, x0: float, y0: float, order: int, lmin: float, lmax: float,
                      theta: float) -> np.ndarray:
    """Wavelength edges from lmin to lmax with at most STEP_PX pixels of trace per step."""
    probe = np.linspace(lmin, lmax, 65)
    x, y = trace(spec, x0, y0, probe, order, theta=theta)
    length = float(np.sum(np.hypot(np.diff(x), np.diff(y))))
    n = max(int(math.ceil(length / STEP_PX)), 16)
    return np.linspace(lmin, lmax, n + 1)


def _profile(centre: np.ndarray, sigma: float, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """(first pixel, fractions (n, 2 reach + 1)) of Gaussians centred at ``centre``."""
    first = np.floor(centre + 0.5).astype(int) - reach
    edges = first[:, None] + np.arange(2 * reach + 2)[None, :] - 0.5
    cdf = 0.5 * (1.0 + erf((edges - centre[:, None]) / (math.sqrt(2.0) * sigma)))
    return first, np.diff(cdf, axis=1)


def render_order(image: np.ndarray, spec: GrismSpecwcs, source: GrismSource, order: int,
                 waverange: tuple[float, float], *, dispaxis: int, sigma: float, theta: float = 0.0,
                 origin: tuple[int, int] = (0, 0)) -> None:
    """Add one spectral order of ``source`` (e-/s) to ``image`` in place.

    Parameters
    ----------
    image : ndarray (ny, nx)
    spec : GrismSpecwcs
    source : GrismSource
    order : int
    waverange : (lmin, lmax)
        um.
    dispaxis : int
        1: dispersion along rows, 2: along columns (:func:`streamcal.wcs.grism.dispaxis_of`).
    sigma : float
        Cross-dispersion Gaussian sigma, pixels.
    theta : float
        NIRISS FWCPOS - FWCPOS_REF, deg.
    origin : (x, y)
        Full-frame pixel of ``image[0, 0]``.
    """
    if sigma <= 0:
        raise ValueError("sigma must be positive")
    edges = _wavelength_steps(spec, source.x0, source.y0, order, *waverange, theta=theta)
    mid = 0.5 * (edges[1:] + edges[:-1])
    charge = np.asarray(source.rate(mid), dtype=float) * np.diff(edges)
    x, y = trace(spec, source.x0, source.y0, mid, order, theta=theta)
    x, y = x - origin[0], y - origin[1]
    if dispaxis not in (1, 2):
        raise ValueError(f"dispaxis must be 1 or 2, got {dispaxis}")
    along_rows = dispaxis == 1
    a, c = (x, y) if along_rows else (y, x)      # along, across
    reach = int(math.ceil(5 * sigma)) + 1
    first, frac = _profile(c, sigma, reach)
    lo = np.floor(a).astype(int)
    w_hi = a - lo
    ny, nx = image.shape
    for shift, w in ((0, 1.0 - w_hi), (1, w_hi)):
        ia = lo + shift
        for k in range(frac.shape[1]):
            ic = first + k
            rows, cols = (ic, ia) if along_rows else (ia, ic)
            ok = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx)
            np.add.at(image, (rows[ok], cols[ok]), (charge * w * frac[:, k])[ok])


def wfss_image(shape: tuple[int, int], spec: GrismSpecwcs, sources: Sequence[GrismSource],
               ranges: dict[int, tuple[float, float]], *, dispaxis: int, sigma: float, theta: float = 0.0,
               origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Dispersed image (e-/s) of ``sources`` in the orders and wavelength ranges ``ranges``."""
    image = np.zeros(shape)
    for src in sources:
        for order, waverange in ranges.items():
            render_order(image, spec, src, order, waverange, dispaxis=dispaxis, sigma=sigma, theta=theta,
                         origin=origin)
    return image


def direct_image(shape: tuple[int, int], sources: Sequence[GrismSource], band: tuple[float, float], *,
                 sigma: float, origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Direct image (e-/s) through the band filter: each source's spectrum integrated over
    ``band`` (um) as a circular pixel-integrated Gaussian at (x0, y0)."""
    image = np.zeros(shape)
    reach = int(math.ceil(5 * sigma)) + 1
    lam = np.linspace(*band, 257)
    for src in sources:
        total = float(np.trapezoid(src.rate(lam), lam))
        fx0, gx = _profile(np.array([src.x0 - origin[0]]), sigma, reach)
        fy0, gy = _profile(np.array([src.y0 - origin[1]]), sigma, reach)
        stamp = total * np.outer(gy[0], gx[0])
        ys, xs = np.arange(fy0[0], fy0[0] + stamp.shape[0]), np.arange(fx0[0], fx0[0] + stamp.shape[1])
        oky, okx = (ys >= 0) & (ys < shape[0]), (xs >= 0) & (xs < shape[1])
        image[np.ix_(ys[oky], xs[okx])] += stamp[np.ix_(oky, okx)]
    return image


def tsgrism_cube(shape: tuple[int, int], spec: GrismSpecwcs, source: GrismSource, order: int,
                 waverange: tuple[float, float], light_curve: np.ndarray, *, dispaxis: int, sigma: float,
                 origin: tuple[int, int] = (0, 0)) -> np.ndarray:
    """NRC_TSGRISM rates (nints, ny, nx) e-/s: the source at (XREF_SCI, YREF_SCI) as jwst's
    TSGRISM WCS places it (``source.x0``, ``source.y0`` = the keyword values), its spectrum
    scaled per integration by ``light_curve`` (a grey transit: 1 - depth in transit)."""
    frame = np.zeros(shape)
    render_order(frame, spec, source, order, waverange, dispaxis=dispaxis, sigma=sigma, origin=origin)
    return np.asarray(light_curve, dtype=float)[:, None, None] * frame[None]
