"""Array helpers shared by the detector-level steps: DQ OR-ing, box dilation, detector
orientation, sigma-clipped means, reference-array checks.

Everything here is a pure function on numpy arrays (no models, no files).
"""

from __future__ import annotations

import warnings

import numpy as np

from .. import dqflags
from ..errors import ReferenceFileError
from ..refs.model import RefData


def or_dq(dst: np.ndarray, bits, where: np.ndarray | None = None) -> None:
    """``dst |= bits`` in place, casting ``bits`` to ``dst``'s dtype (uint8 GROUPDQ, uint32 DQ).

    Parameters
    ----------
    dst : ndarray of uint8 or uint32
        DQ array updated in place.
    bits : int or ndarray of unsigned int
        Flag value, or an array broadcastable to ``dst``.
    where : ndarray of bool, optional
        Only OR where True.

    Examples
    --------
    >>> a = np.zeros(3, np.uint8); or_dq(a, 2, np.array([True, False, True])); a.tolist()
    [2, 0, 2]
    """
    value = np.asarray(bits).astype(dst.dtype, copy=False)
    np.bitwise_or(dst, value, out=dst, where=True if where is None else where)


def collapse_dq(dq: np.ndarray | None, shape: tuple[int, int]) -> np.ndarray:
    """A reference file's DQ as one 2-D uint32 plane: OR over any leading axes (MIRI darks and
    resets carry one DQ plane per integration); zeros when the file has no DQ.

    Examples
    --------
    >>> collapse_dq(np.array([[[1]], [[4]]], np.uint32), (1, 1)).tolist()
    [[5]]
    """
    if dq is None:
        return np.zeros(shape, np.uint32)
    dq = np.asarray(dq, dtype=np.uint32)
    if dq.ndim > 2:
        dq = np.bitwise_or.reduce(dq.reshape((-1,) + dq.shape[-2:]), axis=0)
    return dq


def ref_array(ref: RefData, name: str, shape: tuple[int, ...] | None = None,
              ndim: tuple[int, ...] | None = None) -> np.ndarray:
    """An image extension of a reference file, checked against the science shape.

    Parameters
    ----------
    ref : RefData
        The reference file (already cut to the exposure's subarray).
    name : str
        EXTNAME (``"SCI"``, ``"COEFFS"``, ...).
    shape : tuple, optional
        Required shape of the last ``len(shape)`` axes (normally ``(ny, nx)``).
    ndim : tuple of int, optional
        Allowed numbers of dimensions.

    Raises
    ------
    ReferenceFileError
        Extension missing, or its shape does not match the science data.
    """
    arr = ref.arrays.get(name)
    if arr is None:
        raise ReferenceFileError(f"{ref.reftype} reference {ref.name} has no {name} extension")
    if ndim is not None and arr.ndim not in ndim:
        raise ReferenceFileError(f"{ref.reftype} reference {ref.name}: {name} is {arr.ndim}-D, "
                                 f"expected {' or '.join(map(str, ndim))}-D")
    if shape is not None and tuple(arr.shape[-len(shape):]) != tuple(shape):
        raise ReferenceFileError(f"{ref.reftype} reference {ref.name}: {name} shape {arr.shape} "
                                 f"does not match the science data {shape}")
    return arr


def ref_dq(ref: RefData, shape: tuple[int, int]) -> np.ndarray:
    """The reference file's DQ collapsed to 2-D (zeros if absent), shape-checked."""
    dq = ref.arrays.get("DQ")
    if dq is not None:
        ref_array(ref, "DQ", shape)
    return collapse_dq(dq, shape)


def nan_to_zero(a: np.ndarray, dtype=np.float32) -> np.ndarray:
    """A copy of ``a`` as ``dtype`` with NaN replaced by 0 (reference data: NaN means "no
    correction")."""
    out = np.array(a, dtype=dtype)
    out[np.isnan(out)] = 0
    return out


def integration_start(header) -> int:
    """1-based number of the first integration in this file (INTSTART of a segment), 1 if unset."""
    value = header.get("INTSTART") if header is not None else None
    try:
        return max(int(value), 1)
    except (TypeError, ValueError):
        return 1


# ------------------------------------------------------------------------------- geometry

def box_dilate(mask: np.ndarray, n: int) -> np.ndarray:
    """Grow a boolean image by a (2n+1) x (2n+1) box (binary dilation with a square).

    Separable: n shifted ORs along each axis, so the cost is 4n passes over booleans.

    Parameters
    ----------
    mask : ndarray of bool, (ny, nx)
    n : int
        Half-width of the box, pixels; 0 returns a copy.

    Examples
    --------
    >>> m = np.zeros((3, 4), bool); m[0, 0] = True
    >>> box_dilate(m, 1).astype(int).tolist()
    [[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    """
    return _box_reduce(mask, n, np.logical_or)


def box_min(a: np.ndarray, n: int) -> np.ndarray:
    """Minimum over a (2n+1) x (2n+1) box around each pixel (pixels beyond the edge ignored).

    Separable shifted minima, 4n passes: much faster than ``scipy.ndimage.minimum_filter`` for
    small boxes.

    Examples
    --------
    >>> box_min(np.array([[5, 5, 5], [5, 1, 5], [5, 5, 9]]), 1).tolist()
    [[1, 1, 1], [1, 1, 1], [1, 1, 1]]
    >>> box_min(np.array([[3, 9, 9, 9]]), 1).tolist()
    [[3, 3, 9, 9]]
    """
    return _box_reduce(a, n, np.minimum)


def _box_reduce(a: np.ndarray, n: int, ufunc) -> np.ndarray:
    """Apply a binary ufunc over a (2n+1)^2 box: separable, with shifted slices along each axis."""
    out = a.copy()
    for axis in (0, 1):
        src = out.copy()
        length = src.shape[axis]
        for k in range(1, min(n, length - 1) + 1):
            lo = [slice(None)] * 2
            hi = [slice(None)] * 2
            lo[axis], hi[axis] = slice(0, length - k), slice(k, length)
            ufunc(out[tuple(lo)], src[tuple(hi)], out=out[tuple(lo)])
            ufunc(out[tuple(hi)], src[tuple(lo)], out=out[tuple(hi)])
    return out


def dilate_sparse(mask: np.ndarray, n: int) -> np.ndarray:
    """:func:`box_dilate` restricted to the bounding box of the True pixels (plus ``n``): a few
    newly flagged pixels cost a few pixels, not a full-frame pass."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return np.zeros_like(mask)
    cols = np.flatnonzero(mask.any(axis=0))
    y0, y1 = max(rows[0] - n, 0), min(rows[-1] + n + 1, mask.shape[0])
    x0, x1 = max(cols[0] - n, 0), min(cols[-1] + n + 1, mask.shape[1])
    out = np.zeros_like(mask)
    out[y0:y1, x0:x1] = box_dilate(mask[y0:y1, x0:x1], n)
    return out


def detector_view(a: np.ndarray, fastaxis: int, slowaxis: int) -> np.ndarray:
    """A view of ``a`` (last two axes in DMS orientation) in the detector readout frame.

    Rule of jwst ``reffile_utils.science_detector_frame_transform``: for |FASTAXIS| = 1 reverse
    rows by sign(SLOWAXIS) and columns by sign(FASTAXIS); otherwise reverse rows by
    sign(FASTAXIS), columns by sign(SLOWAXIS), then swap the two axes.  In the detector frame
    the fast (within-amplifier) direction runs along columns and amplifiers are column stripes.
    Being a view, writing into it writes the DMS array: no transform back is needed.

    Examples
    --------
    >>> a = np.arange(6).reshape(2, 3)
    >>> detector_view(a, -1, 2).tolist()   # NRCA1-like: columns reversed
    [[2, 1, 0], [5, 4, 3]]
    >>> detector_view(a, 2, 1).tolist()    # NRS1-like: transposed
    [[0, 3], [1, 4], [2, 5]]
    """
    sf, ss = (1 if fastaxis > 0 else -1), (1 if slowaxis > 0 else -1)
    if abs(fastaxis) == 1:
        return a[..., ::ss, ::sf]
    return np.swapaxes(a[..., ::sf, ::ss], -1, -2)


def detector_window(fastaxis: int, slowaxis: int, rows: slice, cols: slice,
                    full_shape: tuple[int, int]) -> tuple[int, int]:
    """0-based (row, column) of a subarray's first detector-frame pixel inside the full
    detector frame, for the subarray at DMS ``rows``, ``cols`` of a DMS frame ``full_shape``.

    Together with :func:`detector_view` this gives
    ``detector_view(full)[r0:r0+h, c0:c0+w] == detector_view(full[rows, cols])``.

    Examples
    --------
    >>> detector_window(-1, 2, slice(0, 2), slice(1, 3), (4, 4))
    (0, 1)
    """
    ny, nx = full_shape
    y0, y1, x0, x1 = rows.start, rows.stop, cols.start, cols.stop
    sf, ss = (1 if fastaxis > 0 else -1), (1 if slowaxis > 0 else -1)
    if abs(fastaxis) == 1:
        return (ny - y1 if ss < 0 else y0), (nx - x1 if sf < 0 else x0)
    r_flip = ny - y1 if sf < 0 else y0
    c_flip = nx - x1 if ss < 0 else x0
    return c_flip, r_flip


def detector_full_shape(fastaxis: int, full_shape: tuple[int, int]) -> tuple[int, int]:
    """Shape of the full frame in the detector readout orientation."""
    return full_shape if abs(fastaxis) == 1 else (full_shape[1], full_shape[0])


# ------------------------------------------------------------------------------- statistics

def clipped_mean(values: np.ndarray, valid: np.ndarray, nsigma: float = 3.0,
                 max_iter: int = 50) -> np.ndarray:
    """Sigma-clipped mean along the last axis, many independent samples at once.

    Same iteration as ``scipy.stats.sigmaclip(a, nsigma, nsigma)`` followed by ``.mean()``:
    keep values within ``mean +- nsigma * std`` (population std), recompute, until nothing more
    is rejected.  A sample whose std is 0 is not clipped (as jwst refpix special-cases it).

    Parameters
    ----------
    values : ndarray, float, (..., n)
        Samples; unit preserved (DN for reference pixels).
    valid : ndarray of bool, (..., n)
        Which entries belong to each sample (False = padding or DO_NOT_USE).
    nsigma : float
        Clipping limit, standard deviations.

    Returns
    -------
    ndarray, float64, (...)
        Clipped means; NaN for a sample without any valid value.

    Examples
    --------
    >>> v = np.r_[np.tile([1., 2., 3.], 10), 1000.][None, :]   # 31 values, one outlier
    >>> float(clipped_mean(v, np.ones_like(v, bool))[0])
    2.0
    """
    v = np.asarray(values, dtype=np.float64)
    keep = np.array(valid, dtype=bool)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        for _ in range(max_iter):
            n = keep.sum(axis=-1)
            mean = np.where(keep, v, 0.0).sum(axis=-1) / n
            dev = np.where(keep, v - mean[..., None], 0.0)
            std = np.sqrt((dev * dev).sum(axis=-1) / n)
            half = (nsigma * std)[..., None]
            inside = (v >= mean[..., None] - half) & (v <= mean[..., None] + half)
            new = keep & (inside | (std == 0)[..., None])
            if np.array_equal(new, keep):
                break
            keep = new
    return mean


def nanmedian_last(a: np.ndarray) -> np.ndarray:
    """Median along the last axis ignoring NaN (numpy's even-count convention); NaN when a row
    is all NaN.  Sort-based: much faster than ``np.nanmedian`` for many short rows.

    Examples
    --------
    >>> nanmedian_last(np.array([[1., np.nan, 3., 10.], [np.nan, np.nan, np.nan, np.nan]])).tolist()
    [3.0, nan]
    """
    s = np.sort(a, axis=-1)  # NaN sorts last
    n = np.sum(~np.isnan(a), axis=-1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, 0.5 * (lo + hi), np.nan)


# ------------------------------------------------------------------------------- stage 2

def match_nans_and_flags(data: np.ndarray, dq: np.ndarray, *others: np.ndarray | None) -> None:
    """Make NaN and DO_NOT_USE agree, in place (jwst ``pipe_utils.match_nans_and_flags``).

    A pixel is invalid when SCI, or any of ``others`` (ERR, VAR_*), is NaN, or when its DQ has
    DO_NOT_USE.  Invalid pixels get NaN in every array and DO_NOT_USE in DQ.  Arrays (and DQ)
    whose shape differs from SCI's are left alone, as jwst does (guider products: 3-D SCI,
    2-D DQ).

    Parameters
    ----------
    data : ndarray, float32, (ny, nx) or (nplanes, ny, nx)
        SCI, any unit.
    dq : ndarray, uint32
        DQ, standard bits.
    others : ndarray or None
        ERR and variance arrays (None entries are ignored).

    Examples
    --------
    >>> d = np.array([1.0, 2.0, np.nan], np.float32); e = np.ones(3, np.float32)
    >>> q = np.array([0, 1, 0], np.uint32)
    >>> match_nans_and_flags(d, q, e); d.tolist(), e.tolist(), q.tolist()
    ([1.0, nan, nan], [1.0, nan, nan], [0, 1, 1])
    """
    arrays = [data] + [a for a in others if a is not None and a.shape == data.shape]
    invalid = np.zeros(data.shape, bool)
    for a in arrays:
        invalid |= np.isnan(a)
    if dq.shape == data.shape:
        invalid |= (dq & np.uint32(dqflags.DO_NOT_USE)) != 0
        dq[invalid] |= np.uint32(dqflags.DO_NOT_USE)
    for a in arrays:
        a[invalid] = np.nan
