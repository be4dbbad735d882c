"""saturation: flag saturated and A/D-floor groups (SATURATION reference, optional SUPERBIAS).

Algorithm (jwst 3.0 / stcal ``flag_saturated_pixels``), per integration:

1. Thresholds: the reference SCI, DN (raw, bias included).  A NaN threshold or a reference
   NO_SAT_CHECK pixel gets threshold 65536 (A/D limit + 1: never saturates) and NO_SAT_CHECK in
   PIXELDQ.
2. Forward pass: the first group at or above threshold and every later group get SATURATED
   ("ever saturated").  The flag is grown into a (2N+1)^2 box, N = ``n_pix_grow_sat``, to catch
   charge spilling into neighbours; groups <= 0 DN get AD_FLOOR | DO_NOT_USE (that group only).
3. With ``use_readpatt`` and frame-averaged groups (NFRAMES > 1): backward pass.  A group whose
   average may hide saturation in its later frames (value >= threshold * mean(frame numbers) /
   last frame number), not itself flagged, followed by a SATURATED group, gets DO_NOT_USE
   (grown like SATURATED).
4. With ``use_readpatt`` and NGROUPS > 2: group 2 (index 1) gets DO_NOT_USE when it looks like
   saturation happened inside it: group 1 (bias-subtracted with the superbias when given)
   extrapolated to group 3 would not saturate, the jump from group 1 to 2 exceeds the headroom
   left per frame, and group 3 is SATURATED while group 2 is not.
5. ZEROFRAME pixels at or above threshold (grown) or <= 0 are set to 0 ("bad" for later steps).

Frame numbers follow jwst: group g averages frames g*NFRAMES+1 .. (g+1)*NFRAMES (GROUPGAP is not
counted, as in jwst 3.0).

Speed and memory: step 2 is two numba passes per integration (first crossing per pixel, then the
flags) with one int16 map; the growth is a box minimum filter of the first-crossing map (earliest
crossing among the neighbours), which equals growing the flag group by group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from numba import njit

from .. import dqflags
from ..errors import NotImplementedStepError
from ..models import RampModel
from ..refs.model import RefData
from ._common import box_min, dilate_sparse, nan_to_zero, or_dq, ref_array, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "saturation"
STATUS_KEYWORD = "S_SATURA"
REFTYPES = ("saturation",)
OPTIONAL_REFTYPES = ("superbias",)

#: Hard limit of the 16-bit A/D converter, DN.
ATOD_LIMIT = 65535.0
_SAT = np.uint8(dqflags.SATURATED)
_DNU = np.uint8(dqflags.DO_NOT_USE)
_FLOOR = np.uint8(dqflags.AD_FLOOR | dqflags.DO_NOT_USE)


@dataclass(frozen=True)
class Params(StepParams):
    """jwst SaturationStep parameters.

    Attributes
    ----------
    n_pix_grow_sat : int
        Grow SATURATED into a (2n+1) x (2n+1) box, pixels (charge spilling).
    use_readpatt : bool
        Use the read pattern of frame-averaged groups for the extra checks (steps 3 and 4).
    """

    n_pix_grow_sat: int = 1
    use_readpatt: bool = True

    def __post_init__(self):
        if self.n_pix_grow_sat < 0:
            raise ValueError(f"saturation.n_pix_grow_sat must be >= 0, got {self.n_pix_grow_sat}")


def prepare_thresholds(sat: np.ndarray, sat_dq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thresholds ready for comparison, and the DQ to OR into PIXELDQ.

    Parameters
    ----------
    sat : ndarray, float, (ny, nx)
        Saturation thresholds, DN; NaN = unknown.
    sat_dq : ndarray, uint32, (ny, nx)
        Reference DQ (standard bits).

    Returns
    -------
    thresh : ndarray, float32, (ny, nx)
        DN; ATOD_LIMIT + 1 where NaN or NO_SAT_CHECK.
    dq : ndarray, uint32, (ny, nx)
        ``sat_dq`` plus NO_SAT_CHECK where the threshold was NaN.

    Examples
    --------
    >>> t, dq = prepare_thresholds(np.array([[100.0, np.nan]]), np.zeros((1, 2), np.uint32))
    >>> t.tolist(), dq.tolist()
    ([[100.0, 65536.0]], [[0, 2097152]])
    """
    thresh = np.array(sat, dtype=np.float32)
    dq = np.array(sat_dq, dtype=np.uint32)
    dq[np.isnan(thresh)] |= np.uint32(dqflags.NO_SAT_CHECK)
    thresh[(dq & dqflags.NO_SAT_CHECK) != 0] = ATOD_LIMIT + 1
    return thresh, dq


def read_pattern(ngroups: int, nframes: int) -> list[list[int]]:
    """1-based frame numbers averaged into each group, as jwst builds them (no GROUPGAP).

    Examples
    --------
    >>> read_pattern(3, 2)
    [[1, 2], [3, 4], [5, 6]]
    """
    return [[g * nframes + k + 1 for k in range(nframes)] for g in range(ngroups)]


@njit(cache=True)
def _first_crossing(data_i, gdq_i, thresh, sat):
    """Per pixel, the first group at or above threshold (or already SATURATED); ngroups if none."""
    ngroups, ny, nx = data_i.shape
    first = np.full((ny, nx), ngroups, np.int16)
    for g in range(ngroups):
        for y in range(ny):
            for x in range(nx):
                if first[y, x] == ngroups and (data_i[g, y, x] >= thresh[y, x] or gdq_i[g, y, x] & sat):
                    first[y, x] = g
    return first


@njit(cache=True)
def _flag_groups(data_i, gdq_i, start, sat, floor):
    ngroups, ny, nx = data_i.shape
    for g in range(ngroups):
        for y in range(ny):
            for x in range(nx):
                v = gdq_i[g, y, x]
                if start[y, x] <= g:
                    v |= sat
                if data_i[g, y, x] <= 0:
                    v |= floor
                gdq_i[g, y, x] = v


def _forward_pass(data_i, gdq_i, thresh, ngrow):
    """Step 2 for one integration: SATURATED from the first crossing on, grown by taking the
    earliest crossing within the (2N+1)^2 box; A/D floor on each group <= 0.

    SATURATED already present in GROUPDQ counts as a crossing from that group on (stcal grows
    such flags group by group; the two agree whenever they run to the end of the ramp)."""
    first = _first_crossing(data_i, gdq_i, thresh, _SAT)
    if ngrow:
        first = box_min(first, ngrow)
    _flag_groups(data_i, gdq_i, first, _SAT, _FLOOR)


def _backward_pass(data_i, gdq_i, thresh, nosat, pattern, ngrow):
    """Step 3: DO_NOT_USE on groups whose average hides saturation reached inside them."""
    for g in range(data_i.shape[0] - 2, -1, -1):
        dilution = float(np.mean(pattern[g])) / pattern[g][-1]
        if dilution == 1.0:
            continue
        limit = np.where(nosat, thresh, thresh * np.float32(dilution))
        partial = (data_i[g] >= limit) & ((gdq_i[g] & (_SAT | _DNU)) == 0) & ((gdq_i[g + 1] & _SAT) != 0)
        if partial.any():
            or_dq(gdq_i[g], _DNU, where=dilate_sparse(partial, ngrow) if ngrow else partial)


def _group2_check(data_i, gdq_i, thresh, bias, pattern):
    """Step 4: DO_NOT_USE on group index 1 when saturation set in during it."""
    d0 = data_i[0]
    expected3 = (d0 - bias) / np.float32(np.mean(pattern[0])) * np.float32(pattern[2][-1]) + bias
    mask = expected3 < thresh
    mask &= (data_i[1] - d0) > (thresh - d0) / np.float32(len(pattern[1]))
    mask &= ((gdq_i[2] & _SAT) != 0) & ((gdq_i[1] & _SAT) == 0)
    or_dq(gdq_i[1], _DNU, where=mask)


def flag_saturation_inplace(data: np.ndarray, groupdq: np.ndarray, thresh: np.ndarray,
                            n_pix_grow_sat: int = 1, nframes: int | None = None,
                            bias: np.ndarray | None = None) -> None:
    """Flag SATURATED / AD_FLOOR / DO_NOT_USE groups in place (steps 2-4 of the module doc).

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Raw ramps, DN (not bias-subtracted).
    groupdq : ndarray, uint8, same shape
        Updated in place.
    thresh : ndarray, float32, (ny, nx)
        From :func:`prepare_thresholds`, DN.
    n_pix_grow_sat : int
        Growth half-width, pixels.
    nframes : int or None
        Frames per group; None disables the read-pattern checks (``use_readpatt=False``).
    bias : ndarray, float32, (ny, nx), optional
        Superbias, DN (NaN already 0), used by the group-2 check; 0 when None.

    Examples
    --------
    A pixel crossing 100 DN at group 2 is SATURATED from group 2 on (no growth, 1x1 image):

    >>> d = np.array([10, 60, 120, 150], np.float32).reshape(1, 4, 1, 1)
    >>> g = np.zeros(d.shape, np.uint8)
    >>> flag_saturation_inplace(d, g, np.full((1, 1), 100, np.float32), 0)
    >>> g.ravel().tolist()
    [0, 0, 2, 2]
    """
    nints, ngroups = data.shape[:2]
    nosat = thresh > ATOD_LIMIT
    pattern = read_pattern(ngroups, nframes) if nframes else None
    b = np.zeros_like(thresh) if bias is None else bias
    for i in range(nints):
        _forward_pass(data[i], groupdq[i], thresh, n_pix_grow_sat)
        if pattern is not None:
            _backward_pass(data[i], groupdq[i], thresh, nosat, pattern, n_pix_grow_sat)
            if ngroups > 2:
                _group2_check(data[i], groupdq[i], thresh, b, pattern)


def flag_zeroframe_inplace(zeroframe: np.ndarray, thresh: np.ndarray, n_pix_grow_sat: int = 1) -> int:
    """Set ZEROFRAME pixels that are saturated (grown) or <= 0 to 0, DN.

    Parameters
    ----------
    zeroframe : ndarray, float32, (nints, ny, nx)
        Updated in place.
    thresh : ndarray, float32, (ny, nx)
        Thresholds, DN.

    Returns
    -------
    int
        Number of values set to 0.

    Examples
    --------
    >>> z = np.array([[[50.0, 150.0, -1.0]]], np.float32)
    >>> flag_zeroframe_inplace(z, np.full((1, 3), 100, np.float32), 0), z.tolist()
    (2, [[[50.0, 0.0, 0.0]]])
    """
    count = 0
    for i in range(zeroframe.shape[0]):
        sat = zeroframe[i] >= thresh
        if n_pix_grow_sat:
            sat = dilate_sparse(sat, n_pix_grow_sat)
        bad = sat | (zeroframe[i] <= 0)
        count += int(bad.sum())
        zeroframe[i][bad] = 0
    return count


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Flag saturation in ``model.groupdq`` (and ZEROFRAME) in place; PIXELDQ |= reference DQ."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if "saturation" not in refs:
        return model, skipped("no saturation reference file applies")
    if model.meta.readpatt.startswith("NRSIRS2"):
        raise NotImplementedStepError("saturation: NIRSpec IRS2 readouts (interleaved reference "
                                      "columns) are not implemented in streamcal")
    shape = model.pixeldq.shape
    ref = refs["saturation"]
    thresh, sat_dq = prepare_thresholds(ref_array(ref, "SCI", shape, ndim=(2,)), ref_dq(ref, shape))
    bias = None
    if "superbias" in refs and not model.meta.is_miri:
        bias = nan_to_zero(ref_array(refs["superbias"], "SCI", shape, ndim=(2,)))
    nframes = model.meta.nframes if params.use_readpatt else None
    flag_saturation_inplace(model.data, model.groupdq, thresh, params.n_pix_grow_sat, nframes, bias)
    or_dq(model.pixeldq, sat_dq)
    if model.zeroframe is not None and model.meta.zeroframe:
        flag_zeroframe_inplace(model.zeroframe, thresh, params.n_pix_grow_sat)
    # SATURATED runs to the end of the ramp, so the last group holds every saturated pixel.
    nsat = int(np.any((model.groupdq[:, -1] & _SAT) != 0, axis=0).sum())
    return model, StepReport(note=f"{nsat} pixels saturated in at least one group")
