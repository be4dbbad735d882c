"""Box-aperture weights: 1 inside the limits, the covered fraction on partial pixels, 0 outside."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import HORIZONTAL, ExtractParams

__all__ = ["ApertureLimits", "box_profile", "aperture_center"]


@dataclass(frozen=True)
class ApertureLimits:
    """Mean cross-dispersion limits of an aperture (0-based, inclusive, fractional) and its
    first/last dispersion pixels with non-zero weight (None when the aperture is empty)."""

    lower: float
    upper: float
    first: int | None
    last: int | None


def _weights(profile: np.ndarray, idx: np.ndarray, lower, upper, partial: bool) -> None:
    """Add one region to ``profile`` in place.  Limits are inclusive pixel indices: pixel
    ``i`` is whole inside ``[lower, upper]``; a limit of 1.7 gives pixel 1 weight 0.3 and a
    limit of 10.7 gives pixel 11 weight 0.7 (the later, larger weight wins on overlap)."""
    profile[(idx >= lower) & (idx <= upper)] = 1.0
    if not partial:
        return
    for weight in (idx - lower + 1, upper - idx + 1):
        take = (weight > 0) & (weight < 1) & (profile < weight)
        profile[take] = weight[take]


def _poly(coeff: tuple[float, ...], x: np.ndarray) -> np.ndarray:
    # coefficients are in increasing power, as jwst's (astropy Polynomial1D) convention
    return np.polynomial.polynomial.polyval(x, np.asarray(coeff, dtype=float))


def box_profile(shape: tuple[int, int], params: ExtractParams, wavelength: np.ndarray, *,
                background: bool = False, trace: np.ndarray | None = None) -> tuple[np.ndarray, float, float]:
    """Aperture weights on a ``shape`` image and their mean lower/upper cross-dispersion limits.

    Priority of the cross-dispersion limits, as jwst: the polynomial regions (``src_coeff``,
    or ``bkg_coeff`` with ``background``), else ``trace`` ± ``extract_width``/2, else the
    start/stop centre ± ``extract_width``/2, else start/stop.  Along dispersion the
    start/stop limits keep whole pixels only.

    Parameters
    ----------
    shape : (ny, nx)
    params : ExtractParams
    wavelength : ndarray, (ny, nx), µm
        Only used when the polynomials are functions of wavelength.
    background : bool
        Build the background regions (whole pixels only for a median fit).
    trace : ndarray, optional
        Cross-dispersion source position per dispersion pixel.

    Returns
    -------
    profile : ndarray, float64, (ny, nx)
    lower, upper : float
    """
    yidx, xidx = np.mgrid[: shape[0], : shape[1]]
    horizontal = params.dispaxis == HORIZONTAL
    cross = yidx if horizontal else xidx
    partial = not (background and params.bkg_fit == "median")
    coeff = params.bkg_coeff if background else params.src_coeff
    profile = np.zeros(shape)
    if coeff is not None:
        if params.independent_var.startswith("wavelength"):
            ivar = wavelength
        else:
            ivar = (xidx if horizontal else yidx).astype(np.float32)
        lows, highs = [], []
        for low, high in zip(coeff[0::2], coeff[1::2]):
            # polynomials put 0 at a pixel centre; start/stop put it at the pixel's start
            lower, upper = _poly(low, ivar) + 0.5, _poly(high, ivar) - 0.5
            _weights(profile, cross, lower, upper, partial)
            lows.append(np.mean(lower))
            highs.append(np.mean(upper))
        lower_limit, upper_limit = min(lows), max(highs)
    elif params.extract_width is not None and trace is not None:
        width = params.extract_width
        centre = trace[None, :] if horizontal else np.tile(trace, (shape[1], 1)).T
        lower = centre - (width - 1.0) / 2.0
        upper = lower + width - 1
        _weights(profile, cross, lower, upper, True)
        lower_limit, upper_limit = float(np.nanmean(lower)), float(np.nanmean(upper))
    else:
        if params.extract_width is not None:
            middle = (params.ystart + params.ystop) / 2.0 if horizontal else (params.xstart + params.xstop) / 2.0
            lower_limit = middle - (params.extract_width - 1.0) / 2.0
            upper_limit = lower_limit + params.extract_width - 1
        elif horizontal:
            lower_limit, upper_limit = params.ystart, params.ystop
        else:
            lower_limit, upper_limit = params.xstart, params.xstop
        _weights(profile, cross, lower_limit, upper_limit, True)
    if horizontal:
        profile[:, : int(np.ceil(params.xstart))] = 0
        profile[:, int(np.floor(params.xstop)) + 1:] = 0
    else:
        profile[: int(np.ceil(params.ystart)), :] = 0
        profile[int(np.floor(params.ystop)) + 1:, :] = 0
    return profile, float(lower_limit), float(upper_limit)


def aperture_center(profile: np.ndarray, dispaxis: int, middle_pix: int | None = None) -> tuple[float, float]:
    """Weighted centre of an aperture: (cross-dispersion, dispersion) pixel coordinates, the
    cross-dispersion one taken at dispersion pixel ``middle_pix`` when given."""
    weights = np.where(profile > 0, profile, 0.0)
    yidx, xidx = np.mgrid[: profile.shape[0], : profile.shape[1]]
    spec_idx, slit_idx = (xidx, yidx) if dispaxis == HORIZONTAL else (yidx, xidx)
    if middle_pix is not None:
        if dispaxis == HORIZONTAL:
            slit_idx, weights = slit_idx[:, middle_pix], weights[:, middle_pix]
        else:
            slit_idx, weights = slit_idx[middle_pix, :], weights[middle_pix, :]
    if np.sum(weights) == 0:
        weights = np.ones_like(weights)
    slit_center = float(np.average(slit_idx, weights=weights))
    spec_center = float(middle_pix) if middle_pix is not None else float(np.average(spec_idx, weights=weights))
    return slit_center, spec_center
