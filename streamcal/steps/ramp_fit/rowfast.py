"""The fast path of ramp fitting: a whole image row of *clean* ramps at once (numba).

A pixel is clean when every group of every integration has DQ 0, its data are finite, its
PIXELDQ has neither DO_NOT_USE nor SATURATED and its gain is > 0: then each integration is one
segment of all NGROUPS groups and the OLS_C rules of :mod:`.ols` reduce to straight-line
arithmetic.  Here that arithmetic runs plane by plane over a row, so the loops over pixels are
contiguous and branch-free (the compiler vectorizes them); the median of the first differences
comes from a sorting network applied to whole rows.  The row is computed as if every pixel
were clean; the others are then redone by the general per-pixel path (:mod:`.pixel`).  Both
use the same scalar formulas of :mod:`.ols`.
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
    scratch; ``slope`` (nx,) the output.  Each pixel's weight is picked from the six of its
    group by a chain of selects rather than an indexed load, so the loop over pixels vectorizes.
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
        w0, w1, w2, w3, w4, w5 = w[0, j], w[1, j], w[2, j], w[3, j], w[4, j], w[5, j]
        xval = np.float64(j)
        for x in range(nx):
            p = pidx[x]
            wp = w0 if p == 0 else (w1 if p == 1 else (w2 if p == 2 else (
                w3 if p == 3 else (w4 if p == 4 else w5))))
            wy = wp * np.float64(data[i, j, y, x])
            sums[0, x] += wy
            sums[1, x] += wy * xval
    for x in range(nx):
        p = pidx[x]
        slope[x] = (const[p, 0] * sums[1, x] - const[p, 1] * sums[0, x]) / const[p, 2] / tgroup


@njit(cache=True, error_model="numpy")
def row_fit_clean(data, y, pixdq, gain, rn, dark, tgroup, wts, pairs, scratch, rate, ints):
    """Fit row ``y`` as if every pixel were clean, into the output tuples (slope, dq, vp, vr,
    err); the values are right for the clean pixels (see :func:`clean_mask`).

    ``scratch`` = (srt (ng-1, nx), prev (nx), mrate (nx), pidx (nx) int, sums (2, nx),
    slopes (nints, nx), var (6, nx)).  Every integration of a clean pixel has the same
    variances (they depend on the median rate, gain, noise and length only), so they are
    computed once; the exposure sums still add them once per integration, in the C order.
    """
    nints, ng, ny, nx = data.shape
    srt, prev, mrate, pidx, sums, slopes, var = scratch
    row_median_rate(data, y, tgroup, pairs, srt, prev, mrate)
    for i in range(nints):
        row_integration_fit(data, i, y, gain, rn, tgroup, wts, pidx, sums, slopes[i])
    row_clean_variances(y, ng, gain, rn, dark, tgroup, mrate, var)
    # Written for every pixel, branch-free (vectorizes); the general path then overwrites the
    # pixels that are not clean.
    vr, inv_p, inv_r, ivp, ivr, err = var[0], var[1], var[2], var[3], var[4], var[5]
    rs, rvp, rvr = sums[0], sums[1], prev  # reuse scratch: exposure sums
    rs[:] = 0.0
    rvp[:] = 0.0
    rvr[:] = 0.0
    for i in range(nints):
        for x in range(nx):
            num = slopes[i, x] / vr[x]
            ints[0][i, y, x] = num * ivr[x]
            ints[1][i, y, x] = pixdq[y, x]
            ints[2][i, y, x] = ivp[x]
            ints[3][i, y, x] = ivr[x]
            ints[4][i, y, x] = err[x]
            rs[x] += num
            rvp[x] += inv_p[x]
            rvr[x] += inv_r[x]
    for x in range(nx):
        vp_o = 1.0 / rvp[x] if rvp[x] > 0.0 else 0.0
        vp_o = 0.0 if vp_o >= LARGE_VARIANCE_THRESHOLD or vp_o < 0.0 else vp_o
        vr_o = 1.0 / rvr[x] if rvr[x] > 0.0 else 0.0
        vr_o = 0.0 if vr_o >= LARGE_VARIANCE_THRESHOLD else vr_o
        rate[0][y, x] = rs[x] * vr_o
        rate[1][y, x] = pixdq[y, x]
        rate[2][y, x] = vp_o
        rate[3][y, x] = vr_o
        rate[4][y, x] = math.sqrt(vp_o + vr_o)


@njit(cache=True, error_model="numpy")
def row_clean_variances(y, ng, gain, rn, dark, tgroup, mrate, var):
    """Per pixel of row ``y``, as if clean: ``var`` rows = segment VAR_RNOISE, 1/VAR_POISSON
    (0 if none), 1/VAR_RNOISE, integration VAR_POISSON, VAR_RNOISE (thresholded) and ERR.

    Branch-free over all pixels (the divisions vectorize); written only for clean pixels.
    """
    nx = var.shape[1]
    for x in range(nx):
        g, r = np.float64(gain[y, x]), np.float64(rn[y, x])
        vp = poisson_var(ng, tgroup, g, mrate[x], np.float64(dark[y, x]))
        vr = rnoise_var(ng, tgroup, g, r)
        inv_p = 1.0 / vp if vp > 0.0 else 0.0
        inv_r = 1.0 / vr
        ivp = 1.0 / inv_p if inv_p > 0.0 else 0.0
        ivr = 1.0 / inv_r
        var_err = 1.0 / (1.0 / (vp + vr))
        var[0, x] = vr
        var[1, x] = inv_p
        var[2, x] = inv_r
        var[3, x] = 0.0 if ivp >= LARGE_VARIANCE_THRESHOLD else ivp
        var[4, x] = 0.0 if ivr >= LARGE_VARIANCE_THRESHOLD else ivr
        var[5, x] = 0.0 if var_err > LARGE_VARIANCE_THRESHOLD else math.sqrt(var_err)
