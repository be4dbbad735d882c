"""The fast path of ramp fitting: a whole image row of *clean* ramps at once (numba).

A pixel is clean when every group of every integration has DQ 0, its data are finite, its
PIXELDQ has neither DO_NOT_USE nor SATURATED and its gain is > 0: then each integration is one
segment of all NGROUPS groups and the OLS_C rules of :mod:`.ols` reduce to straight-line
arithmetic.  Here that arithmetic runs plane by plane over a row, so the loops over pixels are
contiguous and branch-free (the compiler vectorizes them); the median of the first differences
comes from a sorting network applied to whole rows.  Every other pixel goes through the
general per-pixel path (:mod:`.pixel`); both use the same scalar formulas of :mod:`.ols`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._ramputil import sort_columns
from .ols import (LARGE_VARIANCE_THRESHOLD, poisson_var, power_index, rnoise_var, segment_snr,
                  weight_row)


@njit(cache=True, error_model="numpy")
def clean_mask(data, gdq, pixdq, gain, y, extra, clear_jump0, jump, invalid, clean):
    """``clean[x]`` for row ``y`` (see the module docstring)."""
    nints, ng, ny, nx = data.shape
    for x in range(nx):
        g = gain[y, x]
        clean[x] = (pixdq[y, x] & invalid) == 0 and g > 0.0
    for i in range(nints):
        for k in range(ng):
            ex = extra[k]
            keep = ~np.uint32(jump) if clear_jump0 and k == 0 else ~np.uint32(0)
            for x in range(nx):
                v = data[i, k, y, x]
                q = (np.uint32(gdq[i, k, y, x]) | ex) & keep
                clean[x] &= (q == 0) & (v - v == 0.0)  # v - v is NaN for NaN and inf


@njit(cache=True, error_model="numpy")
def row_median_rate(data, y, tgroup, pairs, srt, prev, mrate):
    """Median rate (DN/s) of every pixel of row ``y``, as if all of its ramps were clean.

    ``srt`` (ngroups-1, nx) and ``prev`` (nx,) float64 are scratch; ``mrate`` (nx,) the output.
    """
    nints, ng, ny, nx = data.shape
    nd = ng - 1
    half = nd // 2
    mrate[:] = 0.0
    for i in range(nints):
        for x in range(nx):
            prev[x] = data[i, 0, y, x] / tgroup
        for k in range(nd):
            for x in range(nx):
                cur = data[i, k + 1, y, x] / tgroup
                srt[k, x] = cur - prev[x]
                prev[x] = cur
        sort_columns(srt, pairs, nx)
        for x in range(nx):
            mrate[x] += srt[half, x] if nd % 2 == 1 else (srt[half - 1, x] + srt[half, x]) / 2.0
    for x in range(nx):
        mrate[x] = mrate[x] / nints


def full_segment_weights(ngroups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a segment of all ``ngroups`` groups and each power: the weights (float64 of the
    float32 values), their x-weighted copies ``j w_j``, and ``(sum w, sum j w, D)`` with
    ``D = sum w * sum j^2 w - (sum j w)^2``.

    The slope is then ``(S_w * sum(j w y) - S_x * sum(w y)) / D / TGROUP``: the C code's
    formula with the common factor 1/RN^2 of all weights cancelled (equal to it to ~1e-15).
    """
    w = weight_row(ngroups).astype(np.float64)
    j = np.arange(ngroups, dtype=np.float64)
    sw, sx, sxx = w.sum(axis=1), (w * j).sum(axis=1), (w * j * j).sum(axis=1)
    return w, w * j, np.stack([sw, sx, sw * sxx - sx * sx], axis=1)


@njit(cache=True, error_model="numpy")
def row_integration_fit(data, i, y, gain, rn, tgroup, wts, pidx, sums, slope):
    """OLS slope (DN/s) of integration ``i`` of every pixel of row ``y`` (one full segment).

    ``wts`` = :func:`full_segment_weights`; ``pidx`` (nx,) int and ``sums`` (2, nx) are
    scratch; ``slope`` (nx,) the output.
    """
    w, wj, const = wts
    nints, ng, ny, nx = data.shape
    for x in range(nx):
        g = np.float64(gain[y, x])
        r = np.float64(rn[y, x])
        snr = segment_snr(np.float64(data[i, 0, y, x]), np.float64(data[i, ng - 1, y, x]), g, r)
        pidx[x] = power_index(snr)
        sums[0, x] = 0.0
        sums[1, x] = 0.0
    for j in range(ng):
        for x in range(nx):
            yv = np.float64(data[i, j, y, x])
            sums[0, x] += w[pidx[x], j] * yv
            sums[1, x] += wj[pidx[x], j] * yv
    for x in range(nx):
        p = pidx[x]
        slope[x] = (const[p, 0] * sums[1, x] - const[p, 1] * sums[0, x]) / const[p, 2] / tgroup


@njit(cache=True, error_model="numpy")
def row_fit_clean(data, y, pixdq, gain, rn, dark, tgroup, wts, pairs, clean, scratch, rate, ints):
    """Fit every clean pixel of row ``y`` into the output tuples (slope, dq, vp, vr, err).

    ``scratch`` = (srt (ng-1, nx), prev (nx), mrate (nx), pidx (nx) int, sums (2, nx),
    slope (nx), acc (3, nx)).
    """
    nints, ng, ny, nx = data.shape
    srt, prev, mrate, pidx, sums, slope, acc = scratch
    row_median_rate(data, y, tgroup, pairs, srt, prev, mrate)
    acc[:] = 0.0  # rows: sum slope/vr, sum 1/vp, sum 1/vr
    for i in range(nints):
        row_integration_fit(data, i, y, gain, rn, tgroup, wts, pidx, sums, slope)
        for x in range(nx):
            if not clean[x]:
                continue
            g, r = np.float64(gain[y, x]), np.float64(rn[y, x])
            vp = poisson_var(ng, tgroup, g, mrate[x], np.float64(dark[y, x]))
            vr = rnoise_var(ng, tgroup, g, r)
            inv_p = 1.0 / vp if vp > 0.0 else 0.0
            ivp = 1.0 / inv_p if inv_p > 0.0 else 0.0
            ivr = 1.0 / (1.0 / vr)
            var_err = 1.0 / (1.0 / (vp + vr))
            ints[0][i, y, x] = (slope[x] / vr) * (0.0 if ivr >= LARGE_VARIANCE_THRESHOLD else ivr)
            ints[1][i, y, x] = pixdq[y, x]
            ints[2][i, y, x] = 0.0 if ivp >= LARGE_VARIANCE_THRESHOLD else ivp
            ints[3][i, y, x] = 0.0 if ivr >= LARGE_VARIANCE_THRESHOLD else ivr
            ints[4][i, y, x] = 0.0 if var_err > LARGE_VARIANCE_THRESHOLD else math.sqrt(var_err)
            acc[0, x] += slope[x] / vr
            acc[1, x] += inv_p
            acc[2, x] += 1.0 / vr
    for x in range(nx):
        if clean[x]:
            _finish_clean_rate(x, y, acc, pixdq[y, x], rate)


@njit(cache=True, error_model="numpy")
def _finish_clean_rate(x, y, acc, pdq, rate):
    vp = 1.0 / acc[1, x] if acc[1, x] > 0.0 else 0.0
    if vp >= LARGE_VARIANCE_THRESHOLD or vp < 0.0:
        vp = 0.0
    vr = 1.0 / acc[2, x] if acc[2, x] > 0.0 else 0.0
    if vr >= LARGE_VARIANCE_THRESHOLD:
        vr = 0.0
    rate[0][y, x] = acc[0, x] * vr
    rate[1][y, x] = pdq
    rate[2][y, x] = vp
    rate[3][y, x] = vr
    rate[4][y, x] = math.sqrt(vp + vr)
