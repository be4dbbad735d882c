"""Row screen for jump detection: which pixels of a row can have a jump at all (numba).

Almost every pixel has no jump, and proving that is cheaper done for a whole row at once,
plane by plane (contiguous, branch-free loops), than pixel by pixel.  Only the pixels the
screen keeps go through the per-pixel search of :mod:`.twopoint`, which then redoes everything.

*Exact screen* (up to :data:`EXACT_MAX` differences per pixel): the differences of the row are
sorted with a sorting network applied to whole rows; from each pixel's sorted values the screen
computes exactly the first decision of the search (the median of stcal, the sigma, and the
largest ratio, which sits at the smallest or largest value).  A pixel passes only if that
first search would flag nothing, in which case the search stops at once: the screen and the
search agree bit for bit.

*Range screen* (more differences): the median lies between the smallest and largest usable
value, so no ratio can exceed ``range / sigma(smallest possible |median|)``; when that bound is
below the threshold (with a 1e-6 margin for float32 rounding) the pixel passes.

Pixels already carrying JUMP_DET never pass (they may be neighbour sources or need clearing),
nor do pixels with non-finite data in a usable group (numpy's NaN/inf rules apply there).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._ramputil import merge_exchange_network, sort_columns

#: How the per-pixel pass finds jumps.
ITERATIVE, SINGLE_PASS, PREFLAGGED = 0, 1, 2
#: Most differences per pixel for which the screen sorts them (the network grows as n log^2 n).
EXACT_MAX = 32


def screen_network(nints: int, ngroups: int) -> np.ndarray:
    """Sorting network for the exact screen, or an empty one (range screen) for long ramps."""
    n = nints * (ngroups - 1)
    return merge_exchange_network(n) if n <= EXACT_MAX else np.zeros((0, 2), np.int64)


@njit(cache=True, error_model="numpy", inline="always")
def read_noise_var(rn, gain, nframes):
    """Read-noise variance of one group difference, e^2, from the CDS read noise (DN, float32)
    and gain (e-/DN, float32): ``(RN gain)^2 / (0.5 * 2 NFRAMES)``, the product in float32 as
    stcal forms it."""
    rn_e = rn * gain
    return np.float64(rn_e * rn_e) / (0.5 * (2.0 * nframes))


@njit(cache=True)
def make_screen_scratch(nints, ngroups, nx, pairs):
    """Scratch arrays of :func:`screen_row` for rows of ``nx`` pixels:
    (vals, prev, cur, lo, hi, nus, anyq, weird)."""
    nvals = nints * (ngroups - 1) if pairs.shape[0] > 0 else 1
    return (np.empty((max(nvals, 1), nx)), np.empty(nx, np.float32), np.empty(nx, np.float32),
            np.empty(nx), np.empty(nx), np.empty(nx, np.int64), np.empty(nx, np.uint8),
            np.empty(nx, np.bool_))


@njit(cache=True, error_model="numpy")
def row_electrons(data, gdq, gain, i, g, y, bad, cur, anyq, weird):
    """``cur[x]`` = group ``g`` of row ``y`` in e- (float32), NaN where flagged ``bad``."""
    nx = data.shape[3]
    for x in range(nx):
        q = gdq[i, g, y, x]
        v = data[i, g, y, x] * gain[y, x]
        usable = (q & bad) == 0
        cur[x] = v if usable else np.float32(np.nan)
        anyq[x] |= q
        weird[x] |= usable and not (v - v == 0.0)  # inf/NaN data in a usable group


@njit(cache=True, error_model="numpy")
def row_differences(data, gdq, gain, y, bad, absolute, exact, scratch):
    """One pass over the planes of row ``y``: the first differences of every pixel, e-.

    Exact screen: stored in ``vals[k, x]`` (``|d|`` if ``absolute``), +inf where unusable.
    Range screen: only their count ``nus``, minimum ``lo`` and maximum ``hi`` are kept.
    ``anyq`` is the union of the pixel's DQ; ``weird`` marks non-finite data.
    """
    vals, prev, cur, lo, hi, nus, anyq, weird = scratch
    nints, ngroups, ny, nx = data.shape
    anyq[:] = 0
    weird[:] = False
    lo[:] = np.inf
    hi[:] = -np.inf
    nus[:] = 0
    k = 0
    for i in range(nints):
        row_electrons(data, gdq, gain, i, 0, y, bad, prev, anyq, weird)
        for g in range(1, ngroups):
            row_electrons(data, gdq, gain, i, g, y, bad, cur, anyq, weird)
            for x in range(nx):
                d = np.float64(cur[x] - prev[x])
                a = abs(d) if absolute else d
                if exact:
                    vals[k, x] = a if a == a else np.inf
                else:
                    usable = a == a
                    nus[x] += usable
                    lo[x] = min(lo[x], a) if usable else lo[x]
                    hi[x] = max(hi[x], a) if usable else hi[x]
                prev[x] = cur[x]
            k += 1


@njit(cache=True, error_model="numpy", inline="always")
def sorted_median(vals, x, m):
    """Median of the sorted ``vals[:m, x]``; NaN when ``m == 0``."""
    if m == 0:
        return np.nan
    h = m // 2
    return vals[h, x] if m % 2 == 1 else (vals[h - 1, x] + vals[h, x]) / 2.0


@njit(cache=True, error_model="numpy", inline="always")
def first_search_flags(vals, x, nus, var_rn, mode, thr4, thr3, thr2):
    """Would the first step of the search flag anything, given column ``x`` sorted?"""
    if nus < (2 if mode == ITERATIVE else 1):
        return False
    top = vals[nus - 1, x]
    if mode == ITERATIVE:
        if nus >= 4:  # stcal drops every copy of the largest |d| from its median
            c = 1
            while c < nus and vals[nus - 1 - c, x] == top:
                c += 1
            med = sorted_median(vals, x, nus - c)
        else:
            med = vals[1, x] if nus == 3 else vals[0, x]
        thr = thr4 if nus >= 4 else (thr3 if nus == 3 else thr2)
        sig = math.sqrt(abs(med) + var_rn)
        low = abs(np.float64(np.float32(vals[0, x] - med)))
        high = abs(np.float64(np.float32(top - med)))
        return max(low, high) / sig > thr
    med = sorted_median(vals, x, nus)
    sig = math.sqrt(abs(med) + var_rn)
    return max(abs(vals[0, x] - med), abs(top - med)) / sig > thr4


@njit(cache=True, error_model="numpy", inline="always")
def range_bound_flags(lo, hi, nus, var_rn, mode, thr4, thr3, thr2):
    """Could any ratio exceed the threshold, from the range of the values alone?"""
    if nus < (2 if mode == ITERATIVE else 1):
        return False
    if mode == ITERATIVE:
        thr = thr4 if nus >= 4 else (thr3 if nus == 3 else thr2)
        floor = lo
    else:
        thr = thr4
        floor = 0.0 if lo <= 0.0 <= hi else min(abs(lo), abs(hi))
    sig = math.sqrt(floor + var_rn)
    return not ((hi - lo) * (1.0 + 1e-6) < thr * sig * (1.0 - 1e-6))


@njit(cache=True, error_model="numpy")
def screen_row(data, gdq, gain, rn, y, nframes, mode, thr4, thr3, thr2, bad, jump, pairs,
               scratch, need):
    """``need[x]``: pixel ``x`` of row ``y`` must go through the per-pixel search."""
    nx = data.shape[3]
    nvals = data.shape[0] * (data.shape[1] - 1)
    exact = (pairs.shape[0] > 0 or nvals == 1) and mode != PREFLAGGED
    row_differences(data, gdq, gain, y, bad, mode == ITERATIVE, exact, scratch)
    vals, prev, cur, lo, hi, nus, anyq, weird = scratch
    if exact:
        sort_columns(vals, pairs, nx)
    for x in range(nx):
        if anyq[x] & jump or weird[x]:
            need[x] = True
        elif mode == PREFLAGGED:
            need[x] = False
        else:
            var_rn = read_noise_var(rn[y, x], gain[y, x], nframes)
            if exact:
                n = nvals
                while n > 0 and vals[n - 1, x] == np.inf:
                    n -= 1
                need[x] = first_search_flags(vals, x, n, var_rn, mode, thr4, thr3, thr2)
            else:
                need[x] = range_bound_flags(lo[x], hi[x], nus[x], var_rn, mode, thr4, thr3, thr2)
