"""linearity: correct the ramps for detector non-linearity (LINEARITY reference).

Per pixel and group, ``Fc = sum_k c_k F^k`` (Horner), with F in DN (bias-subtracted for NIR, raw
for MIRI).  Rules of jwst 3.0 / stcal:

* groups flagged SATURATED are left as they are;
* pixels with any NaN coefficient or a zero linear term are left uncorrected and get
  NO_LIN_CORR in PIXELDQ; pixels flagged NO_LIN_CORR in the reference DQ are left uncorrected;
  PIXELDQ |= reference DQ;
* ZEROFRAME is corrected the same way, 0 ("bad") values staying 0;
* with frame-averaged groups (NFRAMES > 1) and an INV_COEFFS extension, the read-level
  correction: estimate the rate from the linearised first and last unsaturated groups, rebuild
  the frames of each group, push them through the inverse polynomial, shift them so their
  average matches the observed group, linearise each frame and average.

Choice: jwst builds the frame numbers of group g as g*NFRAMES+1..(g+1)*NFRAMES, ignoring GROUPGAP;
here the frames are placed at their real times, g*(NFRAMES+GROUPGAP)+1.., so the rebuilt frames
are spaced as on the detector.  For GROUPGAP = 0 the two are identical.

Kernels are numba loops over pixels (float64 arithmetic, float32 storage, no full-size
temporaries).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from numba import njit

from .. import dqflags
from ..models import RampModel
from ..refs.model import RefData
from ._common import or_dq, ref_array, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "linearity"
STATUS_KEYWORD = "S_LINEAR"
REFTYPES = ("linearity",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """linearity has no parameters besides ``skip``."""


def uncorrectable(coeffs: np.ndarray, lin_dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels to leave uncorrected, and those to flag NO_LIN_CORR in PIXELDQ.

    Parameters
    ----------
    coeffs : ndarray, float, (ncoeffs, ny, nx)
        Polynomial coefficients, c_k in DN^(1-k).
    lin_dq : ndarray, uint32, (ny, nx)
        Reference DQ, standard bits.

    Returns
    -------
    skip : ndarray of bool, (ny, nx)
        NaN coefficient, zero linear term, or NO_LIN_CORR in the reference.
    flag : ndarray of bool, (ny, nx)
        NaN coefficient or zero linear term (reference NO_LIN_CORR reaches PIXELDQ via the DQ OR).

    Examples
    --------
    >>> c = np.array([[[0., 0., 0.]], [[1., np.nan, 0.]]])
    >>> s, f = uncorrectable(c, np.array([[1 << 20, 0, 0]], np.uint32)); s.tolist(), f.tolist()
    ([[True, True, True]], [[False, True, True]])
    """
    flag = np.isnan(coeffs).any(axis=0) | (coeffs[1] == 0)
    skip = flag | ((lin_dq & dqflags.NO_LIN_CORR) != 0)
    return skip, flag


@njit(cache=True)
def _linearize_groups(data, gdq, coeffs, skip, sat):
    # Row by row: the inner loops over x have no branches, so LLVM vectorises them.
    nints, ngroups, ny, nx = data.shape
    nc = coeffs.shape[0]
    acc = np.empty(nx, np.float64)
    for i in range(nints):
        for g in range(ngroups):
            for y in range(ny):
                row = data[i, g, y]
                for x in range(nx):
                    acc[x] = coeffs[nc - 1, y, x]
                for k in range(nc - 2, -1, -1):
                    for x in range(nx):
                        acc[x] = acc[x] * row[x] + coeffs[k, y, x]
                for x in range(nx):
                    keep = skip[y, x] or (gdq[i, g, y, x] & sat) != 0
                    row[x] = row[x] if keep else np.float32(acc[x])


def linearize_inplace(data: np.ndarray, groupdq: np.ndarray, coeffs: np.ndarray, skip: np.ndarray) -> None:
    """Apply the polynomial to every unsaturated group of every pixel not in ``skip``.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN; corrected in place.
    groupdq : ndarray, uint8, same shape
        SATURATED groups are not corrected.
    coeffs : ndarray, float32, (ncoeffs, ny, nx)
        Correction polynomial, c_k in DN^(1-k).
    skip : ndarray of bool, (ny, nx)
        Pixels left uncorrected.

    Examples
    --------
    Fc = F + 0.001 F^2: 100 -> 110; the SATURATED group keeps its value.

    >>> d = np.array([100, 100], np.float32).reshape(1, 2, 1, 1)
    >>> g = np.array([0, 2], np.uint8).reshape(1, 2, 1, 1)
    >>> c = np.array([0, 1, 1e-3], np.float32).reshape(3, 1, 1)
    >>> linearize_inplace(d, g, c, np.zeros((1, 1), bool)); d.ravel().tolist()
    [110.0, 100.0]
    """
    _linearize_groups(data, groupdq, coeffs, skip, np.uint8(dqflags.SATURATED))


@njit(cache=True)
def _poly_row(c, y, v, out):
    """out[x] = sum_k c[k, y, x] * v[x]**k along one row (branch-free, so it vectorises)."""
    nc = c.shape[0]
    for x in range(v.shape[0]):
        out[x] = c[nc - 1, y, x]
    for k in range(nc - 2, -1, -1):
        for x in range(v.shape[0]):
            out[x] = out[x] * v[x] + c[k, y, x]


@njit(cache=True)
def _rate_row(data_i, gdq_i, c, y, sat, tmean, lin0, raw, last_lin, rate):
    """Linearised group 0 (``lin0``) and rate per frame time (``rate``) of one row: from group 0
    to the last unsaturated group minus one (at least group 1), as stcal."""
    ngroups, _, nx = data_i.shape
    for x in range(nx):
        raw[x] = data_i[0, y, x]
    _poly_row(c, y, raw, lin0)
    for x in range(nx):
        if gdq_i[0, y, x] & sat:
            lin0[x] = raw[x]
    last = np.empty(nx, np.int64)
    for x in range(nx):
        n = 0
        for g in range(ngroups):
            n += (gdq_i[g, y, x] & sat) == 0
        last[x] = max(n - 1, 2) - 1
        raw[x] = data_i[last[x], y, x]
    _poly_row(c, y, raw, last_lin)
    for x in range(nx):
        if gdq_i[last[x], y, x] & sat:
            last_lin[x] = raw[x]
        rate[x] = (last_lin[x] - lin0[x]) / np.float32(tmean[last[x]] - tmean[0])


@njit(cache=True)
def _linearize_reads(data, gdq, coeffs, inv, skip, sat, times):
    nints, ngroups, ny, nx = data.shape
    nframes = times.shape[1]
    tmean = np.empty(ngroups)
    for g in range(ngroups):
        tmean[g] = times[g].mean()
    # float32 rows: twice the SIMD width of float64, and the precision stcal itself computes with
    lin0, raw, last_lin = np.empty(nx, np.float32), np.empty(nx, np.float32), np.empty(nx, np.float32)
    rate, v, tmp = np.empty(nx, np.float32), np.empty(nx, np.float32), np.empty(nx, np.float32)
    total = np.empty(nx, np.float32)
    frames = np.empty((nframes, nx), np.float32)
    for i in range(nints):
        for y in range(ny):
            _rate_row(data[i], gdq[i], coeffs, y, sat, tmean, lin0, raw, last_lin, rate)
            for g in range(ngroups):
                # rebuild the frames, push them through the inverse polynomial ...
                total[:] = 0.0
                for k in range(nframes):
                    dt = np.float32(times[g, k] - tmean[0])
                    for x in range(nx):
                        v[x] = lin0[x] + rate[x] * dt
                    _poly_row(inv, y, v, frames[k])
                    for x in range(nx):
                        total[x] += frames[k, x]
                # ... shift them to match the observed group, linearise each and average
                for x in range(nx):
                    raw[x] = data[i, g, y, x] - total[x] / np.float32(nframes)
                total[:] = 0.0
                for k in range(nframes):
                    for x in range(nx):
                        v[x] = frames[k, x] + raw[x]
                    _poly_row(coeffs, y, v, tmp)
                    for x in range(nx):
                        total[x] += tmp[x]
                for x in range(nx):
                    if not (skip[y, x] or gdq[i, g, y, x] & sat):
                        data[i, g, y, x] = total[x] / np.float32(nframes)


def frame_times(ngroups: int, nframes: int, groupgap: int) -> np.ndarray:
    """Frame numbers (1-based, in frame times) averaged into each group, (ngroups, nframes).

    Examples
    --------
    >>> frame_times(2, 2, 1).tolist()
    [[1.0, 2.0], [4.0, 5.0]]
    """
    start = np.arange(ngroups)[:, None] * (nframes + groupgap) + 1
    return (start + np.arange(nframes)[None, :]).astype(np.float64)


def linearize_reads_inplace(data: np.ndarray, groupdq: np.ndarray, coeffs: np.ndarray,
                            inv_coeffs: np.ndarray, skip: np.ndarray, nframes: int,
                            groupgap: int = 0) -> None:
    """Read-level linearity correction of frame-averaged groups (see the module doc).

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN; corrected in place.  Needs ngroups >= 2.
    groupdq : ndarray, uint8, same shape
        SATURATED groups are neither used for the rate nor corrected.
    coeffs, inv_coeffs : ndarray, float32, (ncoeffs, ny, nx)
        Correction polynomial and its inverse (linear DN -> observed DN).
    skip : ndarray of bool, (ny, nx)
        Pixels left uncorrected.
    nframes, groupgap : int
        Frames per group and dropped frames between groups.

    Examples
    --------
    With an identity inverse and Fc = 2F the result equals the group-level correction:

    >>> d = np.array([10, 20, 30], np.float32).reshape(1, 3, 1, 1)
    >>> c = np.array([0, 2], np.float32).reshape(2, 1, 1); ic = np.array([0, .5], np.float32).reshape(2, 1, 1)
    >>> linearize_reads_inplace(d, np.zeros(d.shape, np.uint8), c, ic, np.zeros((1, 1), bool), 2)
    >>> d.ravel().tolist()
    [20.0, 40.0, 60.0]
    """
    times = frame_times(data.shape[1], nframes, groupgap)
    _linearize_reads(data, groupdq, coeffs, inv_coeffs, skip, np.uint8(dqflags.SATURATED), times)


def linearize_zeroframe_inplace(zeroframe: np.ndarray, coeffs: np.ndarray, skip: np.ndarray) -> None:
    """Correct ZEROFRAME (nints, ny, nx), DN, in place; 0 ("bad") values are kept at 0.

    Examples
    --------
    >>> z = np.array([[[0.0, 100.0]]], np.float32)
    >>> c = np.array([0, 1, 1e-3], np.float32).reshape(3, 1, 1) * np.ones((1, 1, 2), np.float32)
    >>> linearize_zeroframe_inplace(z, c, np.zeros((1, 2), bool)); z.tolist()
    [[[0.0, 110.0]]]
    """
    zf = zeroframe[:, np.newaxis]
    flags = np.where(zf == 0, np.uint8(dqflags.SATURATED), np.uint8(0))
    _linearize_groups(zf, flags, coeffs, skip, np.uint8(dqflags.SATURATED))


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Linearise ``model.data`` (and ZEROFRAME) in place; PIXELDQ |= reference DQ | NO_LIN_CORR."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if "linearity" not in refs:
        return model, skipped("no linearity reference file applies")
    ref = refs["linearity"]
    shape = model.pixeldq.shape
    coeffs = np.ascontiguousarray(ref_array(ref, "COEFFS", shape, ndim=(3,)), dtype=np.float32)
    lin_dq = ref_dq(ref, shape)
    skip, flag = uncorrectable(coeffs, lin_dq)
    or_dq(model.pixeldq, lin_dq)
    or_dq(model.pixeldq, dqflags.NO_LIN_CORR, where=flag)
    inv = ref.arrays.get("INV_COEFFS")
    meta = model.meta
    note = "group-level correction"
    if inv is not None and meta.nframes > 1 and model.data.shape[1] >= 2:
        inv = np.ascontiguousarray(ref_array(ref, "INV_COEFFS", shape, ndim=(3,)), dtype=np.float32)
        inv_skip, inv_flag = uncorrectable(inv, lin_dq)
        skip = skip | inv_skip
        or_dq(model.pixeldq, dqflags.NO_LIN_CORR, where=inv_flag)
        linearize_reads_inplace(model.data, model.groupdq, coeffs, inv, skip, meta.nframes, meta.groupgap)
        note = f"read-level correction of {meta.nframes}-frame groups (INV_COEFFS)"
    else:
        linearize_inplace(model.data, model.groupdq, coeffs, skip)
    if model.zeroframe is not None and meta.zeroframe:
        linearize_zeroframe_inplace(model.zeroframe, coeffs, skip)
    return model, StepReport(note=f"{note}; {int(skip.sum())} pixels uncorrected (NO_LIN_CORR)")
