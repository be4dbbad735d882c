"""Optimally weighted OLS ramp fitting, one pixel at a time (numba): stcal's OLS_C, re-derived.

Per pixel and integration (the rules of stcal 1.20 ``slope_fitter.c``):

* groups flagged SATURATED are NaN; a SATURATED group 0 makes the integration unusable;
* segments are runs of groups whose DQ (PERSISTENCE ignored) is 0; a group flagged exactly
  JUMP_DET just before a run is the run's first point; length-1 segments are dropped when a
  longer one exists, otherwise only the first is kept;
* the Poisson term uses the pixel's *median rate*: per integration the nan-median of the first
  differences of ``data / TGROUP`` (DO_NOT_USE, SATURATED and post-jump differences excluded),
  averaged over integrations with NaN counted as 0;
* segment fit: n = 1 ``y/timing``; n = 2 ``(y1 - y0)/TGROUP``; n >= 3 OLS with weights
  ``|(j - mid)/mid|^P`` (P from the segment's SNR: 0, 0.4, 1, 3, 6, 10), computed in float32
  like the C code's ``powf`` and tabulated once per exposure;
* variances in (DN/s)^2: read noise ``12 R^2 / ((n^3 - n) TGROUP^2 g^2)`` (R = single-read noise
  in e-), Poisson ``(median_rate + dark) / (TGROUP g (n - 1))`` (n <= 2: ``timing g``);
* integration slope = read-noise-weighted mean of segment slopes; ERR from the total inverse
  variance; exposure slope = read-noise-weighted mean over all segments of all integrations;
  variances >= 1e6 (LARGE_VARIANCE_THRESHOLD) are 0; invalid (DO_NOT_USE/SATURATED) gives NaN
  with zero variances.

All arithmetic is float64, as in the C code (``real_t`` = double); outputs are float32.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


LARGE_VARIANCE_THRESHOLD = 1.0e6
#: Optimal-weighting exponents for SNR bins [0,5), [5,10), [10,20), [20,50), [50,100), >=100.
POWERS = np.array([0.0, 0.4, 1.0, 3.0, 6.0, 10.0])
#: Longest segment whose weights are tabulated; longer ones compute them on the fly.
TABLE_MAX_LEN = 64

# Columns of the per-integration DQ statistics (stcal ``integ_gdq_stats``).
_GOOD, _DNU, _DNU_SAT, _SAT, _JUMP, _PERS, _CLOSS = range(7)


def weight_row(n: int) -> np.ndarray:
    """Optimal weights of a segment of ``n >= 3`` groups for each power.

    ``w[p, j] = float32(|(j - mid)/mid|) ** float32(POWERS[p])``, ``mid = (n - 1)/2``: the C
    code's ``powf`` on float32 arguments.

    Returns
    -------
    ndarray, float32, (6, n)

    Examples
    --------
    >>> weight_row(5)[3].tolist()  # P = 3: |-1|, |-0.5|, 0, 0.5, 1 cubed
    [1.0, 0.125, 0.0, 0.125, 1.0]
    """
    mid = (n - 1) / 2.0
    base = np.abs((np.arange(n) - mid) * (1.0 / mid)).astype(np.float32)
    return np.stack([np.power(base, np.float32(power)) for power in POWERS])


def weight_table(max_len: int) -> np.ndarray:
    """:func:`weight_row` for every length ``3 <= n <= max_len``: ``w[p, n, j]``.

    Returns
    -------
    ndarray, float32, (6, max_len + 1, max_len); rows n < 3 are 0.
    """
    table = np.zeros((len(POWERS), max_len + 1, max(max_len, 1)), dtype=np.float32)
    for n in range(3, max_len + 1):
        table[:, n, :n] = weight_row(n)
    return table


@njit(cache=True, error_model="numpy", inline="always")
def power_index(snr):
    """Index into :data:`POWERS` for a segment SNR (NaN counts as high, as in C)."""
    if snr < 5.0:
        return 0
    if snr < 10.0:
        return 1
    if snr < 20.0:
        return 2
    if snr < 50.0:
        return 3
    if snr < 100.0:
        return 4
    return 5


@njit(cache=True, error_model="numpy", inline="always")
def segment_snr(first, last, gain, rn):
    """SNR of a segment from its end points (DN), gain (e-/DN), read noise (e-)."""
    data = last - first
    den = rn * rn + data * gain
    if den <= 0.0 or gain == 0.0:
        return 0.0
    s = data * gain / math.sqrt(den)
    return 0.0 if s < 0.0 else s


@njit(cache=True, error_model="numpy", inline="always")
def ols_segment_slope(d, start, n, snr, wtab, rn, tgroup):
    """Optimally weighted OLS slope of ``d[start:start+n]`` (DN, n >= 3; ``d`` is one
    integration's ramp), DN/s.

    x is the group index; the weights' exponent comes from ``snr``; ``rn`` is the single-read
    noise in e- (it scales all weights alike, kept for the C code's rounding).
    """
    p = power_index(snr)
    mid = (n - 1) / 2.0
    invmid = 1.0 / mid
    invrn2 = 1.0 / (rn * rn)
    sumw = sumx = sumxx = sumy = sumxy = 0.0
    for j in range(n):
        if n < wtab.shape[1]:
            w32 = wtab[p, n, j]
        else:
            w32 = np.float32(abs((j - mid) * invmid)) ** np.float32(POWERS[p])
        w = np.float64(w32) * invrn2
        xval = np.float64(j + start)
        y = d[start + j]
        if np.isnan(y):
            y = 0.0
        xwt = xval * w
        sumw += w
        sumx += xwt
        sumxx += xval * xwt
        sumy += y * w
        sumxy += y * xwt
    den = sumw * sumxx - sumx * sumx
    num = sumw * sumxy - sumx * sumy
    return num * (1.0 / den) / tgroup


@njit(cache=True, error_model="numpy", inline="always")
def rnoise_var(n, timing, gain, rn):
    """Read-noise variance of a segment slope, (DN/s)^2 (n <= 2 uses the n = 2 form)."""
    if n <= 2:
        r = rn / timing
        r = 12.0 * r * r
        return r / (6.0 * gain * gain)
    if gain <= 0.0 or np.isnan(gain):
        return 0.0
    r = rn / timing
    r = 12.0 * r * r
    den = np.float64(n * n * n - n)
    return r / (den * gain * gain)


@njit(cache=True, error_model="numpy", inline="always")
def poisson_var(n, timing, gain, median_rate, dark):
    """Poisson variance of a segment slope, (DN/s)^2, from the median rate and dark (DN/s)."""
    pden = timing * gain * (n - 1.0) if n >= 3 else timing * gain
    if median_rate > 0.0:
        return (median_rate + dark) / pden
    return dark / pden


@njit(cache=True, error_model="numpy", inline="always")
def find_segments(q, chargeloss, pers, jump, sat, segs):
    """Segments of one integration's group DQ ``q`` (ngroups,) into ``segs[k] = (start, end)``.

    Returns the number of segments kept, or -1 when group 0 is SATURATED (not checked in the
    CHARGELOSS re-computation, like the C code).
    """
    ng = q.shape[0]
    if not chargeloss and q[0] & sat:
        return -1
    nseg = 0
    maxlen = 0
    in_seg = False
    start = 0
    npers = ~np.uint32(pers)
    for g in range(ng + 1):
        good = g < ng and (q[g] & npers) == 0
        if good and not in_seg:
            start = g - 1 if g > 0 and (q[g - 1] & npers) == jump else g
            in_seg = True
        elif in_seg and not good:
            length = g - start
            if not (length == 1 and maxlen > 1):  # drop short ones once a long one exists
                segs[nseg, 0] = start
                segs[nseg, 1] = g
                nseg += 1
                maxlen = max(maxlen, length)
            in_seg = False
    if nseg >= 2:
        if maxlen < 2:
            return 1
        kept = 0
        for k in range(nseg):
            if segs[k, 1] - segs[k, 0] > 1:
                segs[kept, 0] = segs[k, 0]
                segs[kept, 1] = segs[k, 1]
                kept += 1
        nseg = kept
    return nseg
