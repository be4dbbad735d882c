"""Near-IR reference-pixel kernels, in the detector readout frame.

Geometry (detector frame, full frame ``H x W``, 2048 x 2048 on the detectors): four amplifiers
are column stripes of width W/4; reference pixels are the 4 bottom and 4 top rows (per amplifier)
and the 4 left and 4 right columns ("side" reference pixels).  A subarray is a window
``[r0, r0+h) x [c0, c0+w)`` of that frame and uses whatever reference pixels fall inside it.
Column parity ("odd/even columns") is that of the full-frame detector column, as in jwst.

All functions take one integration, ``det`` (ngroups, h, w): a (strided) detector-frame view of
the DMS data, see :func:`streamcal.steps._common.detector_view`.  Statistics are computed for all
groups at once (a few thousand reference pixels per group); the correction itself is one
numba pass over the DMS-ordered data (:func:`subtract_separable_inplace`).
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.lib.stride_tricks import sliding_window_view

from .._common import clipped_mean, nanmedian_last

#: Width of the reference-pixel border, pixels.
BORDER = 4
NAMPS = 4


def _nanmean(a: np.ndarray, axis: int) -> np.ndarray:
    """Mean ignoring NaN; NaN (silently) where everything is NaN."""
    n = np.sum(~np.isnan(a), axis=axis)
    total = np.nansum(a, axis=axis)
    return np.where(n > 0, total / np.maximum(n, 1), np.nan)


def _overlap(lo: int, hi: int, start: int, size: int) -> tuple[int, int] | None:
    """Local [a, b) of the full-frame range [lo, hi) inside the window [start, start+size)."""
    a, b = max(lo, start) - start, min(hi, start + size) - start
    return (a, b) if b > a else None


def reference_lines(h: int, w: int, r0: int, c0: int, full_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Which rows (top/bottom reference rows) and columns (side reference columns) of a window
    are reference lines, as boolean vectors (h,), (w,).

    Examples
    --------
    >>> rows, cols = reference_lines(6, 6, 0, 10, (16, 16))
    >>> rows.astype(int).tolist(), cols.astype(int).tolist()
    ([1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1])
    """
    H, W = full_shape
    rows, cols = np.zeros(h, bool), np.zeros(w, bool)
    for lo, hi in ((0, BORDER), (H - BORDER, H)):
        span = _overlap(lo, hi, r0, h)
        if span:
            rows[span[0]:span[1]] = True
    for lo, hi in ((0, BORDER), (W - BORDER, W)):
        span = _overlap(lo, hi, c0, w)
        if span:
            cols[span[0]:span[1]] = True
    return rows, cols


def _gather(det: np.ndarray, valid: np.ndarray, sets: list[tuple[slice, slice]]) -> tuple[np.ndarray, np.ndarray]:
    """Stack the pixels of several (row slice, column slice) regions, padded: values
    (ngroups, nsets, m) float64 and their validity (1, nsets, m)."""
    ngroups = det.shape[0]
    m = max((det[0][rs, cs].size for rs, cs in sets), default=0)
    values = np.zeros((ngroups, len(sets), m))
    ok = np.zeros((1, len(sets), m), bool)
    for k, (rs, cs) in enumerate(sets):
        block = det[:, rs, cs].reshape(ngroups, -1)
        values[:, k, :block.shape[1]] = block
        ok[0, k, :block.shape[1]] = valid[rs, cs].ravel()
    return values, ok


def _parity_slices(a: int, b: int, c0: int, odd_even: bool) -> list[slice]:
    """Local column slices of [a, b) per full-frame column parity (one slice without odd_even)."""
    if not odd_even:
        return [slice(a, b)]
    return [slice(a + ((p - (c0 + a)) % 2), b, 2) for p in (0, 1)]


def top_bottom_offsets(det: np.ndarray, valid: np.ndarray, r0: int, c0: int,
                       full_shape: tuple[int, int], odd_even_columns: bool = True,
                       nsigma: float = 3.0) -> np.ndarray:
    """Per-amplifier bias offsets from the top and bottom reference rows, as a column vector.

    For each amplifier (and column parity): the sigma-clipped mean of its bottom and of its top
    reference pixels (DO_NOT_USE excluded), averaged (or whichever exists).  With
    ``odd_even_columns`` an amplifier lacking either parity is left uncorrected (jwst).

    Parameters
    ----------
    det : ndarray, float32, (ngroups, h, w)
        One integration, detector frame, DN.
    valid : ndarray of bool, (h, w)
        Pixels usable as reference (not DO_NOT_USE).
    r0, c0 : int
        Window origin in the full detector frame.
    full_shape : (int, int)
        Full detector-frame shape (H, W).

    Returns
    -------
    ndarray, float64, (ngroups, w)
        Offset to subtract from each column, DN (0 where no reference).

    Examples
    --------
    A 16x16 "detector" (amplifiers 4 columns wide) whose reference rows read 5 DN:

    >>> det = np.zeros((1, 16, 16), np.float32); det[:, :4] = 5; det[:, 12:] = 5
    >>> off = top_bottom_offsets(det, np.ones((16, 16), bool), 0, 0, (16, 16))
    >>> off[0].tolist() == [5.0] * 16
    True
    """
    H, W = full_shape
    h, w = det.shape[1:]
    aw = W // NAMPS
    out = np.zeros((det.shape[0], w))
    plan = []  # (columns slice, [set indices of bottom, top])
    sets: list[tuple[slice, slice]] = []
    for amp in range(NAMPS):
        cols = _overlap(amp * aw, (amp + 1) * aw, c0, w)
        if cols is None:
            continue
        edges = [e for e in (_overlap(0, BORDER, r0, h), _overlap(H - BORDER, H, r0, h)) if e]
        for cs in _parity_slices(*cols, c0, odd_even_columns):
            idx = []
            for ra, rb in edges:
                idx.append(len(sets))
                sets.append((slice(ra, rb), cs))
            plan.append((amp, cs, idx))
    if not sets:
        return out
    values, ok = _gather(det, valid, sets)
    means = clipped_mean(values, np.broadcast_to(ok, values.shape), nsigma)
    by_amp: dict[int, list[tuple[slice, np.ndarray]]] = {}
    for amp, cs, idx in plan:
        signal = _nanmean(means[:, idx], axis=1) if idx else np.full(det.shape[0], np.nan)
        by_amp.setdefault(amp, []).append((cs, signal))
    for parts in by_amp.values():
        if any(np.isnan(sig).all() for _, sig in parts):
            continue  # jwst: both parities needed, or the amplifier is not corrected
        for cs, sig in parts:
            out[:, cs] = np.nan_to_num(sig)[:, None]
    return out


def _running_median(strip: np.ndarray, r0: int, h: int, full_rows: int, length: int) -> np.ndarray:
    """jwst's running median down side columns: a box of ``length`` rows x all columns,
    reflected at the full-frame edges, NaN (= not usable) ignored; rows r0..r0+h only.

    ``strip`` (ngroups, h, ncols) float64 with NaN for unusable pixels; returns (ngroups, h)."""
    if length % 2 == 0:
        length += 1  # jwst: the smoothing length must be odd
    half = length // 2
    ngroups, _, ncols = strip.shape
    full = np.full((ngroups, full_rows, ncols), np.nan)
    full[:, r0:r0 + h] = strip
    padded = np.pad(full, ((0, 0), (half, half), (0, 0)), mode="reflect")
    windows = sliding_window_view(padded[:, r0:r0 + h + 2 * half], length, axis=1)
    return nanmedian_last(windows.reshape(ngroups, h, ncols * length))


def side_offsets(det: np.ndarray, valid: np.ndarray, col_offsets: np.ndarray, r0: int, c0: int,
                 full_shape: tuple[int, int], smoothing_length: int = 11) -> np.ndarray:
    """Row-by-row drift from the side reference columns, as a row vector.

    The left (0-3) and right (W-4..W-1) reference columns, after the top/bottom correction, are
    median-smoothed over ``smoothing_length`` rows; left and right are averaged (one side if the
    other is missing, 0 if both are).

    Parameters
    ----------
    det : ndarray, float32, (ngroups, h, w)
        One integration, detector frame, DN (not yet corrected).
    valid : ndarray of bool, (h, w)
        Usable reference pixels.
    col_offsets : ndarray, float64, (ngroups, w)
        Top/bottom offsets (:func:`top_bottom_offsets`), DN.
    r0, c0 : int
        Window origin in the full detector frame.
    full_shape : (int, int)
        Full detector-frame shape.
    smoothing_length : int
        Running-median height, rows.

    Returns
    -------
    ndarray, float64, (ngroups, h)
        DN (before ``side_gain``).

    Examples
    --------
    Side columns carrying a row drift of 0, 1, 2, ... DN, no smoothing:

    >>> det = np.zeros((1, 16, 16), np.float32); det[0, :, :4] = np.arange(16)[:, None]
    >>> det[0, :, 12:] = np.arange(16)[:, None]
    >>> side_offsets(det, np.ones((16, 16), bool), np.zeros((1, 16)), 0, 0, (16, 16), 1)[0, :4].tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    H, W = full_shape
    h, w = det.shape[1:]
    signals = []
    for lo, hi in ((0, BORDER), (W - BORDER, W)):
        cols = _overlap(lo, hi, c0, w)
        if cols is None:
            continue
        cs = slice(*cols)
        strip = det[:, :, cs].astype(np.float64) - col_offsets[:, None, cs]
        strip[:, ~valid[:, cs]] = np.nan
        signals.append(_running_median(strip, r0, h, H, smoothing_length))
    if not signals:
        return np.zeros((det.shape[0], h))
    return np.nan_to_num(_nanmean(np.stack(signals), axis=0))


def single_output_offsets(det: np.ndarray, refmask: np.ndarray, c0: int, odd_even_columns: bool = True,
                          nsigma: float = 3.0) -> tuple[np.ndarray, int]:
    """One-amplifier subarray: sigma-clipped mean of the flagged reference pixels (per column
    parity), as a column vector.

    Parameters
    ----------
    det : ndarray, float32, (ngroups, h, w)
        One integration, detector frame, DN.
    refmask : ndarray of bool, (h, w)
        REFERENCE_PIXEL and not DO_NOT_USE.
    c0 : int
        Window column origin in the full detector frame (sets the parity).

    Returns
    -------
    offsets : ndarray, float64, (ngroups, w)
        DN; 0 for a parity without reference pixels.
    nmissing : int
        Number of parities without reference pixels.

    Examples
    --------
    >>> det = np.zeros((1, 4, 4), np.float32); det[0, 0] = [1, 2, 1, 2]
    >>> ref = np.zeros((4, 4), bool); ref[0] = True
    >>> off, _ = single_output_offsets(det, ref, 0); off[0].tolist()
    [1.0, 2.0, 1.0, 2.0]
    """
    rows, cols = np.nonzero(refmask)
    parities = [(c0 + cols) % 2 == p for p in (0, 1)] if odd_even_columns else [np.ones(cols.size, bool)]
    m = max(int(p.sum()) for p in parities)
    values = np.zeros((det.shape[0], len(parities), m))
    ok = np.zeros((1, len(parities), m), bool)
    for k, sel in enumerate(parities):
        n = int(sel.sum())
        values[:, k, :n] = det[:, rows[sel], cols[sel]]
        ok[0, k, :n] = True
    means = clipped_mean(values, np.broadcast_to(ok, values.shape), nsigma)
    out = np.zeros((det.shape[0], det.shape[2]))
    colpar = (c0 + np.arange(det.shape[2])) % 2
    for k in range(len(parities)):
        target = (colpar == k) if odd_even_columns else slice(None)
        out[:, target] = np.nan_to_num(means[:, k])[:, None]
    return out, int(np.isnan(means[0]).sum())


def to_dms_vectors(row_vec: np.ndarray, col_vec: np.ndarray, fastaxis: int, slowaxis: int) -> tuple[np.ndarray, np.ndarray]:
    """Detector-frame per-row and per-column corrections as DMS (per-y, per-x) vectors.

    The inverse of :func:`~streamcal.steps._common.detector_view` for a separable correction
    ``K[r, c] = row_vec[..., r] + col_vec[..., c]``.

    Examples
    --------
    >>> y, x = to_dms_vectors(np.array([1., 2.]), np.array([10., 20., 30.]), 2, 1)  # transposed
    >>> y.tolist(), x.tolist()
    ([10.0, 20.0, 30.0], [1.0, 2.0])
    """
    sf, ss = (1 if fastaxis > 0 else -1), (1 if slowaxis > 0 else -1)
    if abs(fastaxis) == 1:
        return row_vec[..., ::ss], col_vec[..., ::sf]
    return col_vec[..., ::sf], row_vec[..., ::ss]


@njit(cache=True)
def _subtract_separable(data, yvec, xvec):
    ngroups, ny, nx = data.shape
    for g in range(ngroups):
        for y in range(ny):
            yv = yvec[g, y]
            for x in range(nx):
                data[g, y, x] = data[g, y, x] - (yv + xvec[g, x])


def subtract_separable_inplace(data: np.ndarray, yvec: np.ndarray, xvec: np.ndarray) -> None:
    """``data[g, y, x] -= yvec[g, y] + xvec[g, x]`` in one pass (float64 sum, float32 store).

    Parameters
    ----------
    data : ndarray, float32, (ngroups, ny, nx)
        One integration in DMS orientation, DN.
    yvec : ndarray, float, (ngroups, ny)
    xvec : ndarray, float, (ngroups, nx)

    Examples
    --------
    >>> d = np.zeros((1, 2, 2), np.float32)
    >>> subtract_separable_inplace(d, np.array([[1., 2.]]), np.array([[10., 20.]])); d[0].tolist()
    [[-11.0, -21.0], [-12.0, -22.0]]
    """
    _subtract_separable(data, np.ascontiguousarray(yvec, dtype=np.float64),
                        np.ascontiguousarray(xvec, dtype=np.float64))
