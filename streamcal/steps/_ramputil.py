"""Numba helpers shared by the ramp kernels (jump, ramp_fit): short-vector medians, DQ planes.

A ramp has a handful to a few hundred groups, so the per-pixel medians here sort a short
scratch vector in place.  Short vectors go through a sorting network (a fixed sequence of
branch-free min/max compare-exchanges: random data cost no branch mispredictions, which made an
insertion sort three times slower), long ones through numpy's sort.  Medians follow numpy's
``nanmedian`` convention exactly: NaNs are ignored and an even count gives the mean of the two
middle values, ``(a + b) / 2``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def merge_exchange_network(n: int) -> np.ndarray:
    """Comparator pairs ``(i, j)``, ``i < j``, of a sorting network for ``n`` items.

    Batcher's merge exchange (Knuth, TAOCP 5.2.2, algorithm M): O(n log^2 n) comparators for
    any ``n``; applying ``lo, hi = min, max`` to each pair in order sorts the items.

    Examples
    --------
    >>> merge_exchange_network(3).tolist()
    [[0, 2], [0, 1], [1, 2]]
    """
    pairs: list[tuple[int, int]] = []
    if n >= 2:
        t = math.ceil(math.log2(n))
        p = 2 ** (t - 1)
        while p > 0:
            q, r, d = 2 ** (t - 1), 0, p
            while True:
                pairs.extend((i, i + d) for i in range(n - d) if i & p == r)
                if q == p:
                    break
                d, q, r = q - p, q // 2, p
            p //= 2
    return np.array(pairs, dtype=np.int64).reshape(-1, 2)


#: Longest vector sorted by a network; beyond it numpy's O(n log n) sort wins.
NETWORK_MAX = 32
_NETWORKS = [merge_exchange_network(n) for n in range(NETWORK_MAX + 1)]
#: All networks for n = 0..NETWORK_MAX concatenated; network n is rows OFFSETS[n]:OFFSETS[n+1].
NETWORK_PAIRS = np.concatenate(_NETWORKS)
NETWORK_OFFSETS = np.cumsum([0] + [len(net) for net in _NETWORKS]).astype(np.int64)


@njit(cache=True, error_model="numpy", inline="always")
def sort_prefix(work, n):
    """Sort ``work[:n]`` (no NaNs) ascending, in place.

    Parameters
    ----------
    work : ndarray, float64, (>= n,)
        Scratch vector; only the first ``n`` entries are touched.
    n : int
    """
    if n > NETWORK_MAX:
        work[:n] = np.sort(work[:n])
        return
    for c in range(NETWORK_OFFSETS[n], NETWORK_OFFSETS[n + 1]):
        a, b = NETWORK_PAIRS[c, 0], NETWORK_PAIRS[c, 1]
        va, vb = work[a], work[b]
        work[a] = min(va, vb)
        work[b] = max(va, vb)


@njit(cache=True, error_model="numpy")
def sort_columns(vals, pairs, nx):
    """Sort every column ``vals[:, x]``, ``x < nx``, with the comparator network ``pairs``.

    Rows are whole image rows, so each compare-exchange is a contiguous, vectorizable loop.
    """
    for c in range(pairs.shape[0]):
        a, b = pairs[c, 0], pairs[c, 1]
        for x in range(nx):
            va, vb = vals[a, x], vals[b, x]
            vals[a, x] = min(va, vb)
            vals[b, x] = max(va, vb)


@njit(cache=True, error_model="numpy", inline="always")
def median_prefix(work, n):
    """Median of ``work[:n]`` (no NaNs), sorting it in place; NaN when ``n == 0``.

    Examples
    --------
    >>> import numpy as np
    >>> median_prefix(np.array([3.0, 1.0, 2.0, 10.0]), 4)
    2.5
    """
    if n == 0:
        return np.nan
    sort_prefix(work, n)
    half = n // 2
    if n % 2 == 1:
        return work[half]
    return (work[half - 1] + work[half]) / 2.0


@njit(cache=True, error_model="numpy", inline="always")
def nanmedian(values, n, work):
    """``numpy.nanmedian(values[:n])`` without allocation.

    Parameters
    ----------
    values : ndarray, float64, (>= n,)
        Input, NaN = missing; not modified.
    n : int
        Number of entries of ``values`` to use.
    work : ndarray, float64, (>= n,)
        Scratch vector.

    Returns
    -------
    float
        Median of the non-NaN entries; NaN if there are none.
    """
    m = 0
    for k in range(n):
        v = values[k]
        if not np.isnan(v):
            work[m] = v
            m += 1
    return median_prefix(work, m)


@njit(cache=True)
def plane_all_have(plane, bits):
    """True when every pixel of a 2-D DQ plane has at least one of ``bits`` (exits early).

    Examples
    --------
    >>> import numpy as np
    >>> plane_all_have(np.array([[1, 3], [1, 1]], np.uint8), 1)
    True
    >>> plane_all_have(np.array([[1, 0], [1, 1]], np.uint8), 1)
    False
    """
    ny, nx = plane.shape
    for y in range(ny):
        for x in range(nx):
            if not plane[y, x] & bits:
                return False
    return True
