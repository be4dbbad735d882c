"""Sigma-clip jump search for exposures with many integrations (stcal ``det_jump_sigma_clipping``).

With ``only_use_ints`` (default) each group difference is compared with the same difference in
the other integrations; otherwise with every difference of the pixel.  The statistic is
astropy's ``sigma_clip`` (median centre, standard deviation, 5 iterations) exactly as stcal
calls it, applied to blocks of rows so the float64 differences never exist for the whole frame.
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.stats import sigma_clip
from .._ramputil import plane_all_have

#: Bytes of float64 differences processed per block of rows.
_BLOCK_BYTES = 64 * 2**20


def sigma_clip_flags_inplace(data, gdq, gain, *, threshold, only_use_ints, dnu, sat, jump):
    """OR JUMP_DET into ``gdq`` where a group difference is clipped.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramp, DN (not modified).
    gdq : ndarray, uint8, same shape
        Group DQ, modified in place.
    gain : ndarray, float32, (ny, nx)
        e-/DN.
    threshold : float
        Clip at this many standard deviations (``rejection_threshold``).
    only_use_ints : bool
        Clip along integrations only (True) or along integrations and groups.
    dnu, sat, jump : int
        DQ bit values.

    Notes
    -----
    Like stcal, a group plane in which every pixel is then JUMP_DET or DO_NOT_USE has its
    JUMP_DET-only pixels reset to 0 (the comment in stcal says DO_NOT_USE, the code does not).
    """
    nints, ngroups, ny, nx = data.shape
    rows = max(1, _BLOCK_BYTES // max(1, nints * ngroups * nx * 8))
    axis = 0 if only_use_ints else (0, 1)
    for y0 in range(0, ny, rows):
        block = slice(y0, min(ny, y0 + rows))
        electrons = data[:, :, block] * gain[block]
        g = gdq[:, :, block]
        electrons[(g & (dnu | sat)) != 0] = np.nan
        diffs = np.diff(electrons, axis=1).astype(np.float64)
        del electrons
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # all-NaN pixels, as stcal silences them
            clipped = sigma_clip(diffs, sigma=threshold, axis=axis, masked=True)
        usable = np.isfinite(diffs) & ((g[:, 1:] & (sat | dnu)) == 0)
        g[:, 1:] |= (clipped.mask & usable).astype(np.uint8) * np.uint8(jump)
    for i in range(nints):
        for k in range(ngroups):
            plane = gdq[i, k]
            if plane_all_have(plane, jump | dnu):
                plane[plane == jump] = 0
