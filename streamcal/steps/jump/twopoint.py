"""Two-point-difference jump detection, one pixel at a time (numba).

The decisions are stcal's ``twopoint_difference`` (stcal 1.20), re-derived per pixel so the
whole exposure is processed in one pass over the ramp with ``O(nints*ngroups)`` scratch:

* work in electrons: ``SCI * gain`` and ``RN_cds * gain`` in float32, as stcal does;
* groups flagged DO_NOT_USE or SATURATED are NaN, and so is every difference touching them;
* first differences ``d = x[k+1] - x[k]`` (float32 subtraction, then float64);
* noise ``sigma = sqrt(|median| + RN_cds^2 / NFRAMES)`` (dt_group = 1, 2*NFRAMES reads per
  difference); a sigma of 0 never flags;
* *iterative* search (fewer than ``min_diffs_single_pass`` usable differences per
  integration): on ``|d|`` with the clipped median (largest value(s) dropped when >= 4 remain,
  minimum of two), flag the largest ratio if it exceeds the threshold for the number of usable
  differences (>= 4: rejection, 3: four-group, 2: three-group), drop it, repeat;
* *single pass*: flag every difference with ``|d - median| / sigma > rejection_threshold``;
* JUMP_DET goes on the group after the jump;
* a jump whose signed ratio lies strictly between ``min/max_jump_to_flag_neighbors`` also
  flags its 4 side neighbours in the same group, unless they are SATURATED or DO_NOT_USE;
  neighbour flags never spread further (only pre-neighbour flags are sources);
* after-jump flagging: jumps >= ``e1`` electrons flag the next ``n1`` groups (and ``e2``/``n2``);
* JUMP_DET is removed from groups that are also DO_NOT_USE or SATURATED.

Rows are processed in order.  A row screen (:mod:`.screen`) first proves, plane by plane, that
almost all pixels of the row have no jump; only the others are searched one by one.  Neighbour
flags cross rows, so rows go through a three-row pipeline: detect row ``y``, then spread the
sources of row ``y-1`` (whose neighbours ``y-2..y`` are all detected by then), then
after-jump-flag row ``y-2`` (final by then).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._ramputil import median_prefix, nanmedian
from .screen import (ITERATIVE, PREFLAGGED, SINGLE_PASS, make_screen_scratch, read_noise_var,
                     screen_row)


@njit(cache=True, error_model="numpy", inline="always")
def load_diffs(data, gdq, y, x, gain, bad, diffs):
    """First differences of one pixel, in electrons, NaN where either group is bad.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramp, DN.
    gdq : ndarray, uint8, same shape
        Group DQ.
    y, x : int
        Pixel.
    gain : float32
        Gain of the pixel, e-/DN.
    bad : int
        DQ bits that exclude a group (DO_NOT_USE | SATURATED).
    diffs : ndarray, float64, (nints*(ngroups-1),)
        Output, e-; integration-major.
    """
    nints, ngroups = data.shape[0], data.shape[1]
    nd = ngroups - 1
    nan32 = np.float32(np.nan)
    for i in range(nints):
        prev = nan32
        for g in range(ngroups):
            v = nan32 if gdq[i, g, y, x] & bad else data[i, g, y, x] * gain
            if g > 0:
                diffs[i * nd + g - 1] = np.float64(v - prev)
            prev = v


@njit(cache=True, error_model="numpy", inline="always")
def noise_sigma(median, var_rn):
    """``sqrt(|median| + var_rn)`` in e-; NaN (never flags) when it is 0."""
    sig = math.sqrt(abs(median) + var_rn)
    return np.nan if sig == 0.0 else sig


@njit(cache=True, error_model="numpy", inline="always")
def clipped_median(absd, n, work):
    """stcal's median of ``|d|`` for the iterative search, and the number of usable values.

    With >= 4 usable values every copy of the largest is dropped first; with exactly 2 the
    smaller is taken; with fewer than 2 the result is NaN.
    """
    nus = 0
    mx = -np.inf
    for k in range(n):
        v = absd[k]
        if not np.isnan(v):
            nus += 1
            if v > mx:
                mx = v
    if nus < 2:
        return np.nan, nus
    m = 0
    for k in range(n):
        v = absd[k]
        if not np.isnan(v) and (nus < 4 or v != mx):
            work[m] = v
            m += 1
    if nus == 2:
        return min(work[0], work[1]), nus
    return median_prefix(work, m), nus


@njit(cache=True, error_model="numpy", inline="always")
def iterative_search(diffs, n, var_rn, thr4, thr3, thr2, absd, work, flagged):
    """Flag jumps one at a time, largest first (stcal ``iterative_jump``) for one pixel.

    Parameters
    ----------
    diffs : ndarray, float64, (>= n,)
        First differences, e-, NaN = unusable.
    n : int
        Number of differences (all integrations).
    var_rn : float
        Read-noise variance of one difference, e-^2.
    thr4, thr3, thr2 : float
        Thresholds (sigma) for >= 4, 3 and 2 usable differences.
    absd, work : ndarray, float64, (>= n,)
        Scratch.
    flagged : ndarray, bool, (>= n,)
        Output: True for each difference found to be a jump.

    Returns
    -------
    int
        Number of differences flagged.
    """
    for k in range(n):
        absd[k] = abs(diffs[k])
        flagged[k] = False
    nflag = 0
    for it in range(n):
        med, nus = clipped_median(absd, n, work)
        if nus < 2:
            break
        if it > 0:  # stcal keeps later medians in a float32 array
            med = np.float64(np.float32(med))
        sig = math.sqrt(abs(med) + var_rn)
        thr = thr4 if nus >= 4 else (thr3 if nus == 3 else thr2)
        rmax = -1.0
        for k in range(n):
            if not np.isnan(absd[k]):
                r = abs(np.float64(np.float32(absd[k] - med))) / sig
                if r > rmax:
                    rmax = r
        if not rmax > thr:  # also stops on NaN (sigma 0 or no median)
            break
        for k in range(n):
            if not np.isnan(absd[k]) and abs(np.float64(np.float32(absd[k] - med))) / sig == rmax:
                flagged[k] = True
                absd[k] = np.nan
                nflag += 1
    return nflag


@njit(cache=True, error_model="numpy", inline="always")
def single_pass_search(diffs, n, median, sig, thr, flagged):
    """Flag every difference with ``|d - median| / sigma > thr`` (stcal single pass)."""
    nflag = 0
    for k in range(n):
        d = diffs[k]
        flagged[k] = (not np.isnan(d)) and abs(d - median) / sig > thr
        nflag += flagged[k]
    return nflag


@njit(cache=True, error_model="numpy", inline="always")
def _detect_pixel(data, gdq, y, x, g32, var_rn, mode, thr4, thr3, thr2, flag_nb, nb_min, nb_max,
                  bad, jump, diffs, absd, work, flagged, src_row):
    """Detect one pixel's jumps, mark its neighbour sources; return its JUMP_DET group count."""
    nints, ngroups = data.shape[0], data.shape[1]
    nd = ngroups - 1
    n = nints * nd
    load_diffs(data, gdq, y, x, g32, bad, diffs)
    med = np.nan
    have_med = False
    if mode == SINGLE_PASS:
        med = nanmedian(diffs, n, work)
        have_med = True
        single_pass_search(diffs, n, med, noise_sigma(med, var_rn), thr4, flagged)
    elif mode == ITERATIVE:
        iterative_search(diffs, n, var_rn, thr4, thr3, thr2, absd, work, flagged)
    if mode != PREFLAGGED:
        for k in range(n):
            if flagged[k]:
                gdq[k // nd, k % nd + 1, y, x] |= jump
    count = 0
    for i in range(nints):
        for g in range(ngroups):
            q = gdq[i, g, y, x]
            if q & jump:
                count += 1
                if flag_nb and g > 0 and not (q & bad):
                    if not have_med:
                        med = nanmedian(diffs, n, work)
                        have_med = True
                    r = abs(diffs[i * nd + g - 1] - med) / noise_sigma(med, var_rn)
                    src_row[i, g, x] = nb_min < r < nb_max
                if q & bad:  # a jump in an unusable group means nothing
                    gdq[i, g, y, x] = q & ~jump
    return count


@njit(cache=True, error_model="numpy")
def _spread_sources(src_row, srcx, gdq, y, bad, jump):
    """Flag the 4 side neighbours (and the pixel) of each source in row ``y``.

    ``srcx[x]`` says whether column ``x`` was searched at all (its ``src_row[:, :, x]`` is valid).
    """
    nints, ngroups, ny, nx = gdq.shape
    for x in range(nx):
        if not srcx[x]:
            continue
        for i in range(nints):
            for g in range(1, ngroups):
                if not src_row[i, g, x]:
                    continue
                for yy, xx in ((y, x), (y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= yy < ny and 0 <= xx < nx and not (gdq[i, g, yy, xx] & bad):
                        gdq[i, g, yy, xx] |= jump


@njit(cache=True, error_model="numpy")
def _after_jump_row(data, gdq, gain, y, e1, n1, e2, n2, bad, jump, diffs, work, mark):
    """Flag the groups following large jumps in row ``y`` (stcal ``transient_jumps``)."""
    nints, ngroups, ny, nx = data.shape
    nd = ngroups - 1
    for x in range(nx):
        has_jump = False
        for i in range(nints):
            for g in range(1, ngroups):
                has_jump |= (gdq[i, g, y, x] & jump) != 0
        if not has_jump:
            continue
        load_diffs(data, gdq, y, x, gain[y, x], bad, diffs)
        med = nanmedian(diffs, nints * nd, work)
        for i in range(nints):
            mark[:] = False
            for g in range(1, ngroups):
                if gdq[i, g, y, x] & jump:
                    e = diffs[i * nd + g - 1] - med
                    span = max(n1 if e >= e1 else -1, n2 if e >= e2 else -1)
                    for gg in range(g, min(ngroups, g + span + 1)):
                        mark[gg] = True
            for g in range(ngroups):
                if mark[g] and not (gdq[i, g, y, x] & bad):
                    gdq[i, g, y, x] |= jump


@njit(cache=True, error_model="numpy")
def flag_jumps_kernel(data, gdq, gain, rn, nframes, mode, thr4, thr3, thr2, flag_nb, nb_min,
                      nb_max, e1, n1, e2, n2, dnu, sat, jump, pairs):
    """The whole-exposure pass; see :func:`streamcal.steps.jump.detect.flag_jumps_inplace`.

    ``pairs`` is the sorting network of :func:`.screen.screen_row` (empty: range screen).
    """
    nints, ngroups, ny, nx = data.shape
    n = nints * (ngroups - 1)
    diffs = np.empty(n)
    absd = np.empty(n)
    work = np.empty(n)
    flagged = np.zeros(n, dtype=np.bool_)
    src = np.zeros((2, nints, ngroups, nx), dtype=np.bool_)
    srcx = np.zeros((2, nx), dtype=np.bool_)
    mark = np.zeros(ngroups, dtype=np.bool_)
    need = np.empty(nx, dtype=np.bool_)
    screen = make_screen_scratch(nints, ngroups, nx, pairs)
    bad = dnu | sat
    after = n1 > 0 or n2 > 0
    count = 0
    for yy in range(ny + 2):
        if yy < ny:
            src_row = src[yy & 1]
            srcx[yy & 1, :] = False
            screen_row(data, gdq, gain, rn, yy, nframes, mode, thr4, thr3, thr2, bad, jump,
                       pairs, screen, need)
            for x in range(nx):
                if not need[x]:
                    continue
                srcx[yy & 1, x] = True
                src_row[:, :, x] = False
                var_rn = read_noise_var(rn[yy, x], gain[yy, x], nframes)
                count += _detect_pixel(data, gdq, yy, x, gain[yy, x], var_rn, mode, thr4, thr3,
                                       thr2, flag_nb, nb_min, nb_max, bad, jump, diffs, absd,
                                       work, flagged, src_row)
        if flag_nb and 1 <= yy <= ny:
            _spread_sources(src[(yy - 1) & 1], srcx[(yy - 1) & 1], gdq, yy - 1, bad, jump)
        if after and yy >= 2:
            _after_jump_row(data, gdq, gain, yy - 2, e1, n1, e2, n2, bad, jump, diffs, work, mark)
    return count
