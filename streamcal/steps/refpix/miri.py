"""MIRI reference-pixel kernel (full frame only; jwst skips MIRI subarrays).

The detector is 1024 rows x 1032 columns.  Its four amplifiers interleave by column: amplifier k
reads columns k, k+4, k+8, ..., with reference columns k (left) and 1028+k (right).  Per
integration the first group is subtracted from every group; for each later group and amplifier
the sigma-clipped mean of the left and of the right reference pixels (odd and even rows apart
with ``odd_even_rows``) is taken, the two are averaged, and the average is subtracted from the
amplifier's columns; group 0 is added back.  The net effect on group g is
``data[g] -= mean_ref(data[g] - data[0])``; group 0 is unchanged.
"""

from __future__ import annotations

import numpy as np

from .._common import clipped_mean

#: Full-frame MIRI shape (rows, columns) and its reference columns.
SHAPE = (1024, 1032)
LEFT = (0, 1, 2, 3)
RIGHT = (1028, 1029, 1030, 1031)


def miri_offsets(data_i: np.ndarray, valid: np.ndarray, odd_even_rows: bool = True,
                 nsigma: float = 3.0) -> np.ndarray:
    """Offsets per group, row parity and amplifier, DN.

    Parameters
    ----------
    data_i : ndarray, float32, (ngroups, ny, nx)
        One integration, DN (full frame: nx = 1032).
    valid : ndarray of bool, (ny, nx)
        Usable reference pixels (not DO_NOT_USE).
    odd_even_rows : bool
        Separate means for even and odd rows.

    Returns
    -------
    ndarray, float64, (ngroups, nparity, 4)
        Offset to subtract, 0 for group 0; NaN where a side has no usable pixel.

    Examples
    --------
    Right reference columns 2 DN above the left ones in group 1: offsets are 1 DN.

    >>> d = np.zeros((2, 4, 1032), np.float32); d[1, :, 1028:] = 2
    >>> off = miri_offsets(d, np.ones((4, 1032), bool), odd_even_rows=False)
    >>> off[1, 0].tolist(), off[0, 0].tolist()
    ([1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0])
    """
    ngroups, ny = data_i.shape[:2]
    cols = list(LEFT) + list(RIGHT)
    ramp = data_i[:, :, cols].astype(np.float64)  # only the 8 reference columns
    ref = ramp[1:] - ramp[0]
    ok = valid[:, cols]
    rows = [slice(0, ny, 2), slice(1, ny, 2)] if odd_even_rows else [slice(0, ny)]
    out = np.zeros((ngroups, len(rows), 4))
    for p, rs in enumerate(rows):
        # samples: (ngroups-1, 8 columns, nrows) -> one clipped mean per column (amplifier side)
        values = np.moveaxis(ref[:, rs, :], 1, 2)
        means = clipped_mean(values, np.broadcast_to(ok[rs, :].T, values.shape), nsigma)
        out[1:, p, :] = 0.5 * (means[:, :4] + means[:, 4:])
    return out


def subtract_miri_offsets_inplace(data_i: np.ndarray, offsets: np.ndarray) -> None:
    """Subtract (ngroups, nparity, 4) offsets from each amplifier's columns and row parity.

    Examples
    --------
    >>> d = np.zeros((1, 2, 8), np.float32)
    >>> subtract_miri_offsets_inplace(d, np.array([[[1., 2., 3., 4.], [5., 6., 7., 8.]]]))
    >>> d[0].tolist()
    [[-1.0, -2.0, -3.0, -4.0, -1.0, -2.0, -3.0, -4.0], [-5.0, -6.0, -7.0, -8.0, -5.0, -6.0, -7.0, -8.0]]
    """
    nparity = offsets.shape[1]
    for g in range(data_i.shape[0]):
        for p in range(nparity):
            for k in range(4):
                data_i[g, p::nparity, k::4] -= np.float32(offsets[g, p, k])
