"""The per-pixel flow of OLS_C ramp fitting (numba): load, median rate, integrations, rate.

See :mod:`.ols` for the rules.  ``d``/``q`` hold one pixel's ramp (float64 DN, NaN where
SATURATED) and effective group DQ, integration-major; ``st`` the per-integration DQ counts.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._ramputil import nanmedian
from .ols import (_CLOSS, _DNU, _DNU_SAT, _GOOD, _JUMP, _PERS, _SAT, LARGE_VARIANCE_THRESHOLD,
                  find_segments, ols_segment_slope, poisson_var, rnoise_var, segment_snr)

_NSTATS = 7


@njit(cache=True, error_model="numpy", inline="always")
def load_integration(data, gdq, i, y, x, extra, clear_jump0, suppress, fl, d, q, oq, st):
    """Fill ``d``, ``q`` (effective DQ), ``oq`` (DQ before one-group suppression) and ``st[i]``.

    ``extra`` (uint32 per group) is ORed in (DO_NOT_USE outside firstgroup..lastgroup);
    ``clear_jump0`` drops JUMP_DET from group 0 (MIRI leading-group discard); ``suppress``
    flags DO_NOT_USE on every group of a ramp with exactly one good group.
    ``fl`` = (DO_NOT_USE, SATURATED, JUMP_DET, PERSISTENCE, CHARGELOSS).
    """
    dnu, sat, jump, pers, closs = fl
    ng = data.shape[1]
    base = i * ng
    npers = ~np.uint32(pers)
    ngood = 0
    for g in range(ng):
        v = np.uint32(gdq[i, g, y, x]) | extra[g]
        ngood += (v & npers) == 0
        oq[base + g] = v
    # counts in local scalars: read-modify-writes of ``st`` in the loop would be serialized
    anyq = np.uint32(0)
    good = nd = nds = ns = 0
    for g in range(ng):
        v = oq[base + g]
        if clear_jump0 and g == 0:
            v &= ~np.uint32(jump)
        if suppress and ngood == 1:
            v |= dnu
        q[base + g] = v
        anyq |= v
        good += v == 0
        nd += (v != 0) and (v & dnu) != 0
        nds += (v & (dnu | sat)) != 0
        ns += (v & sat) != 0
        d[base + g] = np.nan if v & sat else np.float64(data[i, g, y, x])
    st[i, _GOOD], st[i, _DNU], st[i, _DNU_SAT], st[i, _SAT] = good, nd, nds, ns
    st[i, _JUMP] = (anyq & jump) != 0
    st[i, _PERS] = (anyq & pers) != 0
    st[i, _CLOSS] = (anyq & closs) != 0


@njit(cache=True, error_model="numpy", inline="always")
def one_group_special(i, ng, y, x, zf, has_zf, d, q, st, is0, isz):
    """With one-group suppression off: mark a ramp whose only good group is group 0, or
    substitute a non-zero ZEROFRAME for a ramp with no good group."""
    base = i * ng
    is0[i] = False
    isz[i] = False
    if st[i, _GOOD] == 1 and q[base] == 0:
        is0[i] = True
    elif st[i, _GOOD] == 0 and has_zf:
        z = np.float64(zf[i, y, x])
        if z != 0.0:
            d[base] = z
            q[base] = 0
            st[i, _GOOD] = 1
            st[i, _DNU_SAT] -= 1
            if st[i, _SAT] == ng:
                st[i, _SAT] -= 1
            if st[i, _DNU] == ng:
                st[i, _DNU] -= 1
            isz[i] = True


@njit(cache=True, error_model="numpy", inline="always")
def integration_median_rate(dv, qv, tgroup, dnu, jump, loc, work):
    """nan-median of the first differences of ``dv / TGROUP`` for one integration, DN/s.

    Differences into a JUMP_DET group are excluded.  If none is usable but group 0 is,
    the C code's fallback ``dv[0] / TGROUP`` is returned.
    """
    ng = dv.shape[0]
    loc0 = np.nan if qv[0] & dnu else dv[0] / tgroup
    prev = loc0
    all_nan = True
    for k in range(ng - 1):
        nxt = np.nan if qv[k + 1] & dnu else dv[k + 1] / tgroup
        loc[k] = np.nan if qv[k + 1] & jump else nxt - prev
        all_nan &= np.isnan(loc[k])
        prev = nxt
    if all_nan and not np.isnan(loc0):
        return loc0
    return nanmedian(loc, ng - 1, work)


@njit(cache=True, error_model="numpy", inline="always")
def median_rate(d, q, nints, ng, is0, isz, tgroup, tframe, ogt, dnu, jump, loc, work):
    """The pixel's median rate, DN/s: mean over integrations, NaN counted as 0."""
    acc = 0.0
    for i in range(nints):
        base = i * ng
        if ng == 1:
            acc += d[base] / ogt  # NaN propagates for one-group data, as in C
            continue
        if is0[i]:
            m = d[base] / ogt
        elif isz[i]:
            m = d[base] / tframe
        else:
            m = integration_median_rate(d[base:base + ng], q[base:base + ng], tgroup, dnu, jump,
                                        loc, work)
        acc += 0.0 if np.isnan(m) else m
    return acc / nints


@njit(cache=True, error_model="numpy", inline="always")
def segment_fit(dv, s, n, t1, gain, rn, tgroup, wtab):
    """Slope (DN/s) and the timing used for a segment of length ``n`` starting at ``s``."""
    if n == 1:
        return dv[s] / t1, t1
    if n == 2:
        return (dv[s + 1] - dv[s]) / tgroup, tgroup
    snr = segment_snr(dv[s], dv[s + n - 1], gain, rn)
    return ols_segment_slope(dv, s, n, snr, wtab, rn, tgroup), tgroup


@njit(cache=True, error_model="numpy", inline="always")
def fit_integration(i, ng, d, q, st, segs, gain, rn, dark, mrate, tgroup, t1, wtab, dnu, sat,
                    jump, pers, res, idq):
    """Fit one integration into ``res[i] = (slope, var_poisson, var_rnoise, err)``.

    Returns the integration's contributions to the exposure sums
    ``(sum slope/var_r, sum 1/var_p, sum 1/var_r)``.
    """
    dv = d[i * ng:(i + 1) * ng]
    nseg = find_segments(q[i * ng:(i + 1) * ng], False, pers, jump, sat, segs)
    if nseg < 0:  # SATURATED group 0: no usable data in this integration
        idq[i] |= dnu | sat
        res[i, 0] = np.nan
        nseg = 0
    if st[i, _DNU_SAT] == ng:
        idq[i] |= dnu
        if st[i, _SAT] == ng:
            idq[i] |= sat
        return 0.0, 0.0, 0.0
    if nseg == 0:
        return 0.0, 0.0, 0.0
    inv_r = inv_p = inv_e = num = 0.0
    for k in range(nseg):
        s, n = segs[k, 0], segs[k, 1] - segs[k, 0]
        slope, t = segment_fit(dv, s, n, t1, gain, rn, tgroup, wtab)
        vp = poisson_var(n, t, gain, mrate, dark)
        vr = rnoise_var(n, t, gain, rn)
        inv_r += 1.0 / vr
        if vp > 0.0:
            inv_p += 1.0 / vp
        inv_e += 1.0 / (vp + vr)
        num += slope / vr  # read-noise-only weights (JP-4318)
    finish_integration(i, inv_p, inv_r, inv_e, num, idq[i] & (dnu | sat), res)
    return num, inv_p, inv_r


@njit(cache=True, error_model="numpy", inline="always")
def finish_integration(i, inv_p, inv_r, inv_e, num, invalid, res):
    """Variances and slope of an integration from its inverse-variance sums."""
    if inv_p > 0.0:
        res[i, 1] = 1.0 / inv_p
    if res[i, 1] >= LARGE_VARIANCE_THRESHOLD:
        res[i, 1] = 0.0
    res[i, 2] = 1.0 / inv_r
    if res[i, 2] >= LARGE_VARIANCE_THRESHOLD:
        res[i, 2] = 0.0
    if invalid:
        res[i, 0] = np.nan
        res[i, 1] = res[i, 2] = res[i, 3] = 0.0
        return
    var_err = 1.0 / inv_e
    res[i, 0] = num * res[i, 2]
    res[i, 3] = 0.0 if var_err > LARGE_VARIANCE_THRESHOLD else math.sqrt(var_err)


@njit(cache=True, error_model="numpy", inline="always")
def finish_rate(rs, rvp, rvr, rdq, invalid, sat, partial_sat):
    """Exposure slope, variances and ERR from the sums over integrations."""
    vp, vr = rvp, rvr
    if vp > 0.0:
        vp = 1.0 / vp
    if vp >= LARGE_VARIANCE_THRESHOLD or vp < 0.0:
        vp = 0.0
    if vr > 0.0:
        vr = 1.0 / vr
    if vr >= LARGE_VARIANCE_THRESHOLD:
        vr = 0.0
    err = math.sqrt(vp + vr)
    if rdq & invalid:
        rs, vp, vr, err = np.nan, 0.0, 0.0, 0.0
    if partial_sat:
        rdq |= sat
    if not np.isnan(rs):
        rs = rs * vr
    return rs, vp, vr, err, rdq


@njit(cache=True, error_model="numpy", inline="always")
def chargeloss_rnoise(nints, ng, oq, st, segs, gain, rn, tgroup, t1s, dnu, jump, sat, pers,
                      closs, res, cq):
    """Recompute VAR_RNOISE with CHARGELOSS groups put back (stcal's CHARGELOSS pass).

    Returns the new exposure VAR_RNOISE, or -1 when the pixel has no CHARGELOSS group.
    Integration ERR and the exposure ERR are not recomputed (neither are they in stcal).
    """
    evar = 0.0
    found = False
    for i in range(nints):
        if not st[i, _CLOSS]:
            if res[i, 2] > 0.0:
                evar += 1.0 / res[i, 2]
            continue
        found = True
        for g in range(ng):
            v = oq[i * ng + g]
            cq[g] = v ^ np.uint32(dnu | closs) if v & closs else v  # XOR, as in C
        nseg = find_segments(cq, True, pers, jump, sat, segs)
        inv = 0.0
        for k in range(nseg):
            n = segs[k, 1] - segs[k, 0]
            var = rnoise_var(n, t1s[i] if n == 1 else tgroup, gain, rn)
            if var > 0.0:
                inv += 1.0 / var
        res[i, 2] = 1.0 / inv
        if res[i, 2] >= LARGE_VARIANCE_THRESHOLD:
            res[i, 2] = 0.0
        evar += inv
    return evar if found else -1.0
