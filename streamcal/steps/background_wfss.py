"""WFSS background (jwst 3.0 ``subtract_wfss_bkg``): a reference background template scaled to the
dispersed image and subtracted.

1. A source mask (True: source) hides the dispersed traces: jwst builds it from the source
   catalog and the WAVELENGTHRANGE reference, one box per source and order
   (:func:`mask_from_boxes` turns such boxes into the mask; the trace code supplies them).
2. The scale factor ``s`` minimising ``sum (sci - s bkg)^2 / var`` over unmasked pixels,
   ``s = sum(sci bkg / var) / sum(bkg^2 / var)`` with ``var = ERR^2``; pixels with NaN in
   any of the three or ``var = 0`` do not count.
3. Iterative rejection (``maxiter`` times): subtract, find the ``p`` and ``100 - p`` percentiles
   of the residual, mask everything outside, refit.  With ``rms_stop > 0`` it stops early when
   the RMS of the residual's median dispersion profile improves by less than that fraction.
4. ``SCI -= s * BKG`` (every pixel, sources included); ``DQ |= BKG DQ``.  ERR is unchanged.

Before fitting, the number of unmasked pixels with a non-zero template and without DO_NOT_USE
must exceed 5 % of the image (a user mask only needs one); otherwise, or when ``s`` is not
finite, the step FAILS and the data stay untouched (jwst's S_BKDSUB = FAILED, factor 0).
The arithmetic is carried in float32 arrays with float64 sums, as jwst does, so the percentile
cuts fall on the same pixels.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .. import dqflags

__all__ = ["BBox", "WfssBackgroundFit", "mask_from_boxes", "enough_background", "weighted_scale",
           "fit_scale", "MIN_BACKGROUND_FRACTION"]

#: Fraction of the image that must be usable background when the mask comes from the catalog.
MIN_BACKGROUND_FRACTION = 0.05


@dataclass(frozen=True)
class BBox:
    """A trace box in 0-based pixel coordinates, limits inclusive (jwst ``order_bounding``)."""

    ymin: float
    ymax: float
    xmin: float
    xmax: float


@dataclass(frozen=True)
class WfssBackgroundFit:
    """Outcome of the scale fit.

    Attributes
    ----------
    factor : float
        Scale of the template (NaN when it could not be determined).
    rejected : ndarray, bool, (ny, nx)
        Pixels left out at the end: the source mask, NaN/zero-variance pixels and the outliers.
    iterations : int
        Rejection iterations run.
    """

    factor: float
    rejected: np.ndarray
    iterations: int


def mask_from_boxes(shape: tuple[int, int], boxes: Sequence[BBox]) -> np.ndarray:
    """Source mask (True: source) from trace boxes: each box widened to whole pixels
    (floor of the lower, ceil of the upper limit, inclusive) and clipped to the image.

    Any object with ``ymin, ymax, xmin, xmax`` (inclusive, 0-based) will do, e.g. the
    :class:`streamcal.steps.extract_2d.GrismBox` list of ``wfss_boxes``.

    Examples
    --------
    >>> mask_from_boxes((3, 5), [BBox(0.2, 0.8, 1.5, 2.5)]).astype(int).tolist()
    [[0, 1, 1, 1, 0], [0, 1, 1, 1, 0], [0, 0, 0, 0, 0]]
    """
    mask = np.zeros(shape, bool)
    for box in boxes:
        x0, x1 = max(int(math.floor(box.xmin)), 0), min(int(math.ceil(box.xmax)) + 1, shape[-1])
        y0, y1 = max(int(math.floor(box.ymin)), 0), min(int(math.ceil(box.ymax)) + 1, shape[-2])
        mask[y0:y1, x0:x1] = True
    return mask


def enough_background(dq: np.ndarray, source_mask: np.ndarray, template: np.ndarray,
                      min_fraction: float = MIN_BACKGROUND_FRACTION) -> bool:
    """Whether more than ``min_fraction`` of the image is unmasked, non-zero in the template and
    without DO_NOT_USE."""
    good = ~source_mask & (template != 0) & ((dq & np.uint32(dqflags.DO_NOT_USE)) == 0)
    return int(good.sum()) > int(min_fraction * dq.size)


def weighted_scale(sci: np.ndarray, bkg: np.ndarray, var: np.ndarray) -> float:
    """Variance-weighted least-squares scale of ``bkg`` to ``sci``, NaN ignored.

    Examples
    --------
    >>> weighted_scale(np.array([2.0, 4.0]), np.array([1.0, 2.0]), np.array([1.0, 1.0]))
    2.0
    """
    num = np.nansum(sci * bkg / var, dtype=np.float64)
    den = np.nansum(bkg * bkg / var, dtype=np.float64)
    return float(num / den) if den != 0 else float("nan")


def _rms_profile(residual: np.ndarray, dispaxis: int) -> float:
    """RMS of the residual's median profile along the dispersion (collapsing the other axis)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        profile = np.nanmedian(residual, axis=dispaxis - 1)
        return float(np.sqrt(np.nanmean(profile ** 2, dtype=np.float64)))


def fit_scale(sci: np.ndarray, err: np.ndarray, template: np.ndarray, source_mask: np.ndarray, *,
              percent: float = 1.0, maxiter: int = 5, rms_stop: float = 0.0,
              dispaxis: int | None = None) -> WfssBackgroundFit:
    """Scale factor of the template with iterative percentile rejection (steps 2-3).

    Parameters
    ----------
    sci, err : ndarray, (ny, nx)
        Rate and its 1-sigma error, DN/s.
    template : ndarray, (ny, nx)
        Background reference on the same window, DN/s per unit scale.
    source_mask : ndarray, bool
        True on sources (never used for the fit).
    percent : float
        Percentile cut on each side per iteration (jwst ``wfss_outlier_percent``).
    maxiter : int
        Rejection iterations (``wfss_maxiter``).
    rms_stop : float
        Fractional RMS improvement below which to stop (``wfss_rms_stop / 100``); 0: off.
    dispaxis : int or None
        1 (x) or 2 (y); needed when ``rms_stop > 0``.
    """
    if rms_stop > 0 and dispaxis not in (1, 2):
        raise ValueError("rms_stop needs the dispersion axis (1 or 2)")
    s = np.array(sci, np.float32)
    b = np.array(template, np.float32)
    v = np.array(err, np.float32) ** 2
    rejected = np.array(source_mask, bool)
    last_rms = np.inf
    iterations = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices, 0/0
        while iterations < maxiter:
            rejected |= v == 0
            for a in (s, b, v):
                a[rejected] = np.nan
            factor = weighted_scale(s, b, v)
            residual = s - factor * b
            if rms_stop > 0:
                rms = _rms_profile(residual, dispaxis)
                if (last_rms - rms) / last_rms < rms_stop:
                    break
                last_rms = rms
            iterations += 1
            lo, hi = np.nanpercentile(residual, (percent, 100 - percent))
            rejected |= (residual < lo) | (residual > hi)
        rejected |= v == 0
        for a in (s, b, v):
            a[rejected] = np.nan
        return WfssBackgroundFit(weighted_scale(s, b, v), rejected | np.isnan(s), iterations)
