"""Ramp fitting of a whole exposure: the numba pixel loop and the numpy driver around it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ... import dqflags
from .._ramputil import plane_all_have
from .ols import _JUMP, _PERS, _SAT, TABLE_MAX_LEN, weight_table
from .._ramputil import merge_exchange_network
from .rowfast import clean_mask, full_segment_weights, row_fit_clean
from .pixel import (_NSTATS, chargeloss_rnoise, finish_rate, fit_integration, load_integration,
                    median_rate, one_group_special)


@dataclass
class FitArrays:
    """Ramp-fit results: 2-D for the exposure (``rate``), 3-D for ``rateints``.

    Attributes
    ----------
    slope : ndarray, float32
        DN/s; NaN where there is no valid slope.
    dq : ndarray, uint32
        PIXELDQ plus DO_NOT_USE / SATURATED / JUMP_DET / PERSISTENCE summaries.
    var_poisson, var_rnoise : ndarray, float32
        (DN/s)^2.
    err : ndarray, float32
        DN/s.
    """

    slope: np.ndarray
    dq: np.ndarray
    var_poisson: np.ndarray
    var_rnoise: np.ndarray
    err: np.ndarray

    @classmethod
    def empty(cls, shape) -> FitArrays:
        return cls(*(np.zeros(shape, np.uint32 if k == 1 else np.float32) for k in range(5)))


@njit(cache=True, error_model="numpy", inline="always")
def _fit_pixel(data, gdq, y, x, pdq, g, rn, dark, zf, has_zf, extra, clear_jump0, suppress,
               times, wtab, fl, scratch, res, idq):
    """Fit one pixel; returns (slope, var_p, var_r, err, dq) of the exposure; fills res/idq."""
    dnu, sat, jump, pers, closs, ngval = fl
    d, q, oq, cq, loc, work, st, is0, isz, segs, t1s = scratch
    nints, ng = data.shape[0], data.shape[1]
    tgroup, tframe, ogt = times
    if g <= 0.0 or np.isnan(g):
        pdq |= dnu | ngval
    rdq = pdq
    for i in range(nints):
        idq[i] = pdq
        res[i, :] = 0.0
        load_integration(data, gdq, i, y, x, extra, clear_jump0, suppress, fl[:5], d, q, oq, st)
        if not suppress:
            one_group_special(i, ng, y, x, zf, has_zf, d, q, st, is0, isz)
        t1s[i] = ogt if is0[i] else (tframe if isz[i] else tgroup)
        for bit, col in ((jump, _JUMP), (pers, _PERS)):
            if st[i, col]:
                idq[i] |= bit
                rdq |= bit
    mrate = median_rate(d, q, nints, ng, is0, isz, tgroup, tframe, ogt, dnu, jump, loc, work)
    rs = rvp = rvr = 0.0
    n_dnu = n_sat = 0
    partial_sat = False
    for i in range(nints):
        num, ip, ir = fit_integration(i, ng, d, q, st, segs, g, rn, dark, mrate, tgroup, t1s[i],
                                      wtab, dnu, sat, jump, pers, res, idq)
        rs += num
        rvp += ip
        rvr += ir
        if idq[i] & dnu:
            n_dnu += 1
            res[i, 0] = np.nan
        if idq[i] & sat:
            n_sat += 1
            res[i, 0] = np.nan
        if st[i, _SAT] > 0:  # partly saturated: flag, after the slope test above
            idq[i] |= sat
            partial_sat = True
    if n_dnu == nints:
        rdq |= dnu
    if n_sat == nints:
        rdq |= sat
    rs, vp, vr, err, rdq = finish_rate(rs, rvp, rvr, rdq, dnu | sat, sat, partial_sat)
    ev = chargeloss_rnoise(nints, ng, oq, st, segs, g, rn, tgroup, t1s, dnu, jump, sat, pers,
                           closs, res, cq)
    if ev > 0.0:
        vr = 1.0 / ev
        if vr >= 1.0e6:
            vr = 0.0
    return rs, vp, vr, err, rdq


@njit(cache=True, error_model="numpy")
def fit_ramps_kernel(data, gdq, pixdq, gain, rn, dark, zf, has_zf, extra, clear_jump0, suppress,
                     times, wtab, wts, pairs, fl, rate, ints):
    """Fit every pixel; ``rate``/``ints`` are (slope, dq, var_p, var_r, err) output tuples.

    Row by row: the whole row through the vectorized clean-ramp arithmetic of
    :func:`.rowfast.row_fit_clean`, then the pixels that are not clean (:func:`.rowfast.
    clean_mask`) again, one by one, through the general :func:`_fit_pixel`, which overwrites
    their outputs.
    """
    nints, ng, ny, nx = data.shape
    n = nints * ng
    scratch = (np.empty(n), np.empty(n, np.uint32), np.empty(n, np.uint32),
               np.empty(ng, np.uint32), np.empty(max(ng, 1)), np.empty(max(n, 1)),
               np.zeros((nints, _NSTATS), np.int64), np.zeros(nints, np.bool_),
               np.zeros(nints, np.bool_), np.zeros((ng + 1, 2), np.int64), np.empty(nints))
    row_scratch = (np.empty((max(ng - 1, 1), nx)), np.empty(nx), np.empty(nx),
                   np.empty(nx, np.int64), np.empty((2, nx)), np.empty((nints, nx)),
                   np.empty((6, nx)))
    clean = np.zeros(nx, dtype=np.bool_)
    res = np.zeros((nints, 4))
    idq = np.zeros(nints, np.uint32)
    dnu, sat, jump = fl[0], fl[1], fl[2]
    for y in range(ny):
        if ng >= 3:
            clean_mask(data, gdq, pixdq, gain, y, extra, clear_jump0, jump, dnu | sat, clean)
            row_fit_clean(data, y, pixdq, gain, rn, dark, times[0], wts, pairs, row_scratch,
                          rate, ints)
        for x in range(nx):
            if clean[x]:
                continue
            out = _fit_pixel(data, gdq, y, x, pixdq[y, x], np.float64(gain[y, x]),
                             np.float64(rn[y, x]), np.float64(dark[y, x]), zf, has_zf, extra,
                             clear_jump0, suppress, times, wtab, fl, scratch, res, idq)
            rate[0][y, x] = out[0]
            rate[1][y, x] = out[4]
            rate[2][y, x] = out[1]
            rate[3][y, x] = out[2]
            rate[4][y, x] = out[3]
            for i in range(nints):
                ints[0][i, y, x] = res[i, 0]
                ints[1][i, y, x] = idq[i]
                ints[2][i, y, x] = res[i, 1]
                ints[3][i, y, x] = res[i, 2]
                ints[4][i, y, x] = res[i, 3]


def group_range(gdq: np.ndarray, extra: np.ndarray, instrument: str) -> tuple[int, int] | None:
    """Groups ``[g0, g1)`` that ramp fitting uses; ``None`` when nothing is left.

    MIRI only (stcal ``discard_miri_groups``): leading groups, and then the last group, that
    are DO_NOT_USE on every pixel of every integration are dropped; fewer than 2 left is
    nothing.  Other instruments use every group.
    """
    ngroups = gdq.shape[1]
    if instrument.upper() != "MIRI" or ngroups < 2:
        return 0, ngroups

    def all_dnu(g):
        return bool(extra[g] & dqflags.DO_NOT_USE) or all(
            plane_all_have(gdq[i, g], dqflags.DO_NOT_USE) for i in range(gdq.shape[0]))

    g0, g1 = 0, ngroups
    while g0 < g1 and all_dnu(g0):
        g0 += 1
    if g1 - g0 >= 1 and all_dnu(g1 - 1):
        g1 -= 1
    return (g0, g1) if g1 - g0 >= 2 else None


def group_selection_flags(ngroups: int, firstgroup: int | None, lastgroup: int | None) -> np.ndarray:
    """DO_NOT_USE per group outside ``firstgroup..lastgroup`` (jwst ``set_groupdq`` rules).

    Examples
    --------
    >>> group_selection_flags(5, 1, 3).tolist()
    [1, 0, 0, 0, 1]
    >>> group_selection_flags(5, 3, 2).tolist()  # first >= last: ignored, as jwst does
    [0, 0, 0, 0, 0]
    """
    extra = np.zeros(ngroups, np.uint32)
    if firstgroup is None and lastgroup is None:
        return extra
    first = max(0, 0 if firstgroup is None else firstgroup)
    last = ngroups - 1 if lastgroup is None else lastgroup
    if first >= last:
        return extra
    extra[:first] = dqflags.DO_NOT_USE
    extra[last + 1:] = dqflags.DO_NOT_USE
    return extra


def single_read_noise_e(read_noise, gain, nframes: int) -> np.ndarray:
    """CDS read noise (DN) to the single-read noise in e- that the fit uses, float32.

    ``RN_cds * gain / sqrt(2 * NFRAMES)``, rounded to float32 the way stcal's in-place
    numpy update rounds it.
    """
    factor = np.asarray(gain, np.float32).astype(np.float64) / np.sqrt(2.0 * nframes)
    return np.ascontiguousarray(np.asarray(read_noise, np.float32).astype(np.float64) * factor,
                                dtype=np.float32)


def fit_ramps(data, groupdq, pixeldq, gain, read_noise, *, tframe: float, tgroup: float,
              nframes: int, instrument: str = "", average_dark_current=None, zeroframe=None,
              suppress_one_group: bool = True, firstgroup: int | None = None,
              lastgroup: int | None = None) -> tuple[FitArrays, FitArrays] | None:
    """Fit slopes to every ramp (stcal OLS_C, optimal weighting).  Inputs are not modified.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramp, DN.
    groupdq : ndarray, uint8, same shape
        Group DQ (DO_NOT_USE, SATURATED, JUMP_DET, PERSISTENCE, CHARGELOSS matter).
    pixeldq : ndarray, uint32, (ny, nx)
        Pixel DQ, carried into the output DQ.
    gain : ndarray, float32, (ny, nx)
        e-/DN; pixels with gain <= 0 or NaN get NO_GAIN_VALUE | DO_NOT_USE and NaN slopes.
    read_noise : ndarray, float32, (ny, nx)
        CDS read noise, DN.
    tframe, tgroup : float
        Frame and group times, s.
    nframes : int
        Frames per group.
    instrument : str
        ``"MIRI"`` enables the discard of all-DO_NOT_USE leading/trailing groups.
    average_dark_current : ndarray, float32, (ny, nx), optional
        DN/s, added to the median rate in the Poisson variance.
    zeroframe : ndarray, float32, (nints, ny, nx), optional
        DN; used for fully saturated ramps when ``suppress_one_group`` is False.
    suppress_one_group : bool
        Ramps with exactly one good group become DO_NOT_USE (jwst default).  Ignored when
        NGROUPS is 1.
    firstgroup, lastgroup : int, optional
        0-based range of groups to use; the others count as DO_NOT_USE.

    Returns
    -------
    (rate, rateints) : tuple of FitArrays, or None
        ``None`` when no data can be fitted: MIRI with fewer than 2 usable groups, or group 0
        SATURATED in every pixel and integration (stcal returns no product then either).
    """
    nints, ngroups, ny, nx = data.shape
    extra = group_selection_flags(ngroups, firstgroup, lastgroup)
    span = group_range(groupdq, extra, instrument)
    if span is None:
        return None
    g0, g1 = span
    if all(plane_all_have(groupdq[i, g0], dqflags.SATURATED) for i in range(nints)):
        return None
    rate, ints = FitArrays.empty((ny, nx)), FitArrays.empty((nints, ny, nx))
    times = (float(np.float32(tgroup)), float(np.float32(tframe)),
             (nframes + 1.0) * float(np.float32(tframe)) / 2.0)
    dark = np.zeros((ny, nx), np.float32) if average_dark_current is None else average_dark_current
    zf = np.zeros((1, 1, 1), np.float32) if zeroframe is None else _image(zeroframe)
    fl = tuple(np.uint32(v) for v in (dqflags.DO_NOT_USE, dqflags.SATURATED, dqflags.JUMP_DET,
                                      dqflags.PERSISTENCE, dqflags.CHARGELOSS, dqflags.NO_GAIN_VALUE))
    fit_ramps_kernel(data[:, g0:g1], groupdq[:, g0:g1], np.ascontiguousarray(pixeldq, np.uint32),
                     _image(gain), single_read_noise_e(read_noise, gain, nframes), _image(dark), zf,
                     zeroframe is not None, extra[g0:g1], g0 > 0, suppress_one_group and ngroups > 1,
                     times, weight_table(min(g1 - g0, TABLE_MAX_LEN)),
                     full_segment_weights(max(g1 - g0, 3)), merge_exchange_network(g1 - g0 - 1), fl,
                     astuple(rate), astuple(ints))
    return rate, ints


def _image(array) -> np.ndarray:
    """Native-endian contiguous float32 (one compiled kernel, vectorizable rows; 2-D: cheap)."""
    return np.ascontiguousarray(array, dtype=np.float32)


def astuple(arrays: FitArrays) -> tuple:
    """The arrays in the kernel's order (slope, dq, var_poisson, var_rnoise, err)."""
    return arrays.slope, arrays.dq, arrays.var_poisson, arrays.var_rnoise, arrays.err
