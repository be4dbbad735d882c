"""combine_1d: the weighted mean of several 1-D spectra of one source on a common wavelength grid.

As jwst 3.0's ``combine_1d``: spectra are grouped by spectral order; spectra with no finite
flux or non-monotonic wavelengths are skipped.  The output grid comes from all input
wavelengths sorted together: where the samples of the N overlapping spectra form tight
"clumps" (the spread of N consecutive sorted values clearly below that of their neighbours)
the clump mean is one output wavelength.  Each input sample goes to the nearest output pixel
(linear interpolation of the pixel index in wavelength, rounded half to even; a later sample
of the same spectrum landing on the same pixel replaces an earlier one); DO_NOT_USE or NaN
samples are ignored.  FLUX and SURF_BRIGHT are weight-averaged (weight = exposure time, or 1),
errors combined as ``sqrt(sum((err·w)²))/sum(w)``, DQ is the OR of the samples used, and
output pixels with no input are dropped.  Optional sigma clipping about the median of
flux×weight with the median absolute deviation of all samples.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import dqflags
from ..spectra.model import CombinedSpectrum, Spectrum

__all__ = ["WeightedSpectrum", "output_wavelengths", "combine_1d"]


@dataclass(frozen=True)
class WeightedSpectrum:
    """An input spectrum and its weight (the exposure's EFFEXPTM in s by default, or 1)."""

    spectrum: Spectrum
    weight: float


def _coverage(sorted_wl: np.ndarray, spectra: Sequence[np.ndarray]) -> np.ndarray:
    """How many input spectra cover each sorted wavelength (each spectrum's range extended by
    half a sample at both ends, upper end exclusive)."""
    n = np.zeros(sorted_wl.size, dtype=np.int64)
    for wl in spectra:
        if wl.size < 2 or wl[1] == wl[0]:
            continue
        if wl[1] > wl[0]:
            lo, hi = wl[0] - 0.5 * (wl[1] - wl[0]), wl[-1] + 0.5 * (wl[-1] - wl[-2])
        else:
            lo, hi = wl[-1] - 0.5 * (wl[-2] - wl[-1]), wl[0] + 0.5 * (wl[0] - wl[1])
        n += (sorted_wl >= lo) & (sorted_wl < hi)
    if np.any(n <= 0):
        raise ValueError("combine_1d: input wavelengths leave gaps the grid cannot cover")
    return n


def output_wavelengths(spectra: Sequence[np.ndarray]) -> np.ndarray:
    """The output wavelength grid (µm, increasing) of spectra with these wavelength arrays."""
    wl = np.sort(np.concatenate([w for w in spectra if w.size > 1]))
    count = _coverage(wl, spectra)
    nwl = wl.size
    sigma = np.full(nwl, 9999.0)
    mean = np.full(nwl, -99.0)
    grid = np.full(nwl, -99.0)
    for k in range(nwl):
        n = count[k]
        if n == 1:
            sigma[k], mean[k], grid[k] = 0.0, wl[k], wl[k]
            continue
        k1 = k + n // 2 + 1
        k0 = k1 - n
        if k0 >= 0 and k1 <= nwl:
            sigma[k], mean[k] = wl[k0:k1].std(), wl[k0:k1].mean()
            if sigma[k] == 0.0:
                grid[k] = mean[k]
    # a clump: a window whose spread is well below its neighbours' (cutoff 0.8)
    for k in range(nwl):
        if sigma[k] <= 0.0:
            continue
        if k == 0:
            neighbour = sigma[1]
        elif k == nwl - 1:
            neighbour = sigma[nwl - 2]
        else:
            neighbour = (sigma[k - 1] + sigma[k + 1]) / 2.0
        if sigma[k] < 0.8 * neighbour:
            grid[k] = mean[k]
    # stretches with no clump at all: one output value per N samples
    i = 0
    while i < nwl:
        n = count[i]
        if i + n // 2 < nwl:
            n = count[i + n // 2]
            if i + n < nwl and grid[max(i - 1, 0):min(i + n + 1, nwl - 1)].max() <= 0.0:
                grid[i] = wl[i:i + n].mean()
        i += n
    return np.sort(grid[grid > 0.0])


def _pixels(wavelength: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Output pixel of each input wavelength (NaN outside the grid)."""
    pix = np.interp(wavelength, grid, np.arange(grid.size, dtype=float), left=np.nan, right=np.nan)
    return pix


def _monotonic(wl: np.ndarray) -> bool:
    d = np.diff(wl)
    return wl.size < 2 or bool(np.all(d > 0) or np.all(d < 0))


def _combine_order(inputs: Sequence[WeightedSpectrum], sigma_clip: float | None) -> CombinedSpectrum:
    grid = output_wavelengths([w.spectrum.wavelength for w in inputs])
    nspec, nelem = len(inputs), grid.size
    stack = {name: np.zeros((nspec, nelem)) for name in ("flux", "error", "sb", "sb_error", "weight", "count")}
    dq = np.zeros(nelem, np.uint32)
    for s, item in enumerate(inputs):
        spec = item.spectrum
        pix = _pixels(spec.wavelength, grid)
        use = ((spec.dq & np.uint32(dqflags.DO_NOT_USE)) == 0) & ~np.isnan(spec.flux) & ~np.isnan(pix)
        idx = np.flatnonzero(use)
        k = np.round(pix[idx]).astype(int)
        keep = (k >= 0) & (k < nelem)
        idx, k = idx[keep], k[keep]
        np.bitwise_or.at(dq, k, spec.dq[idx])
        # the last sample mapped to a pixel wins
        _, last = np.unique(k[::-1], return_index=True)
        sel = idx[::-1][last]
        kk = k[::-1][last]
        stack["flux"][s, kk] = spec.flux[sel]
        stack["error"][s, kk] = spec.flux_error[sel]
        stack["sb"][s, kk] = spec.surf_bright[sel]
        stack["sb_error"][s, kk] = spec.sb_error[sel]
        stack["weight"][s, kk] = item.weight
        stack["count"][s, kk] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if sigma_clip is not None:
            _clip(stack, sigma_clip)
        w = stack["weight"]
        total = np.nansum(w, axis=0)
        norm = np.where(total > 0.0, total, 1.0)
        flux = np.nansum(stack["flux"] * w, axis=0) / norm
        error = np.sqrt(np.nansum((stack["error"] * w) ** 2, axis=0)) / norm
        sb = np.nansum(stack["sb"] * w, axis=0) / norm
        sb_error = np.sqrt(np.nansum((stack["sb_error"] * w) ** 2, axis=0)) / norm
        count = np.nansum(stack["count"], axis=0)
    good = count > 0
    first = inputs[0].spectrum.meta
    return CombinedSpectrum(wavelength=grid[good], flux=flux[good], error=error[good], surf_bright=sb[good],
                            sb_error=sb_error[good], dq=dq[good], weight=total[good], n_input=count[good],
                            source_id=first.source_id, source_type=first.source_type,
                            spectral_order=first.spectral_order, dispersion_direction=first.dispersion_direction,
                            calibrated=first.calibrated)


def _clip(stack: dict, nsigma: float) -> None:
    weighted = stack["flux"] * stack["weight"]
    masked = np.where((stack["count"] < 1) | (weighted == 0.0), np.nan, weighted)
    median = np.nanmedian(masked, axis=0)
    mad = np.nanmedian(np.abs(masked - median))  # one MAD for all samples, as jwst
    clipped = np.abs(weighted - median) > nsigma * mad
    for name in ("flux", "error", "sb", "sb_error"):
        stack[name][clipped] = np.nan
    stack["count"][clipped] = 0
    stack["weight"][clipped] = 0


def combine_1d(inputs: Sequence[WeightedSpectrum], *, sigma_clip: float | None = None) -> tuple[CombinedSpectrum, ...]:
    """Combine spectra of one source: one :class:`CombinedSpectrum` per spectral order, in
    the order the orders first appear.

    Parameters
    ----------
    inputs : sequence of WeightedSpectrum
        Spectra (any lengths and grids; FLUX Jy, SURF_BRIGHT MJy/sr) with their weights.
    sigma_clip : float, optional
        Clip samples whose flux×weight is more than this many MADs from the median.

    Raises
    ------
    ValueError
        No usable input spectrum (all NaN flux or non-monotonic wavelengths).
    """
    orders: dict = {}
    for item in inputs:
        spec = item.spectrum
        if not np.any(np.isfinite(spec.flux)) or not _monotonic(spec.wavelength):
            continue
        orders.setdefault(spec.meta.spectral_order, []).append(item)
    if not orders:
        raise ValueError("combine_1d: no valid input spectra")
    return tuple(_combine_order(group, sigma_clip) for group in orders.values())
