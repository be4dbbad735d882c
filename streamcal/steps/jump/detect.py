"""The jump-detection kernel for a whole exposure: choose the search, run it, count jumps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import dqflags
from .._ramputil import plane_all_have
from .sigclip import sigma_clip_flags_inplace
from .screen import screen_network
from .twopoint import ITERATIVE, PREFLAGGED, SINGLE_PASS, flag_jumps_kernel


@dataclass(frozen=True)
class JumpResult:
    """What :func:`flag_jumps_inplace` did.

    Attributes
    ----------
    n_primary : int
        Groups carrying JUMP_DET after the search, before neighbour and after-jump flagging
        (stcal's ``total_primary_crs``; includes JUMP_DET already present on input).
    method : str
        ``"iterative"``, ``"single_pass"``, ``"sigma_clip"`` or ``"none"`` (too few usable
        groups: no search was made).
    """

    n_primary: int
    method: str


def count_all_dnu_planes(gdq: np.ndarray) -> np.ndarray:
    """Per integration, how many group planes have DO_NOT_USE on every pixel.

    Parameters
    ----------
    gdq : ndarray, uint8, (nints, ngroups, ny, nx)

    Returns
    -------
    ndarray, int, (nints,)
    """
    return np.array([sum(plane_all_have(gdq[i, k], dqflags.DO_NOT_USE) for k in range(gdq.shape[1]))
                     for i in range(gdq.shape[0])], dtype=int)


def choose_method(gdq: np.ndarray, *, minimum_groups: int, minimum_sigclip_groups: int,
                  only_use_ints: bool, min_diffs_single_pass: int) -> str:
    """stcal's exposure-level choice of search, from the shape and all-DO_NOT_USE planes.

    Examples
    --------
    >>> gdq = np.zeros((1, 10, 2, 2), np.uint8)
    >>> kw = dict(minimum_groups=3, minimum_sigclip_groups=100, only_use_ints=True)
    >>> choose_method(gdq, min_diffs_single_pass=10, **kw)  # 9 differences
    'iterative'
    >>> choose_method(gdq, min_diffs_single_pass=9, **kw)
    'single_pass'
    """
    nints, ngroups = gdq.shape[:2]
    flagged = count_all_dnu_planes(gdq)
    min_usable_groups = ngroups - int(flagged.max())
    total_groups = nints * ngroups - int(flagged.sum())
    if only_use_ints:
        sigclip = nints >= minimum_sigclip_groups
    else:
        sigclip = total_groups >= minimum_sigclip_groups
    if sigclip:
        return "sigma_clip"
    if min_usable_groups < minimum_groups:
        return "none"
    return "single_pass" if min_usable_groups - 1 >= min_diffs_single_pass else "iterative"


def _check(data, gdq, pdq, gain, read_noise):
    if data.dtype != np.float32 or gdq.dtype != np.uint8 or data.shape != gdq.shape or data.ndim != 4:
        raise TypeError("data must be float32 and groupdq uint8, both (nints, ngroups, ny, nx)")
    if pdq.dtype != np.uint32 or pdq.shape != data.shape[2:]:
        raise TypeError("pixeldq must be uint32 (ny, nx)")
    # native-endian, contiguous float32: one compiled kernel, vectorizable loops (2-D: cheap)
    gain = np.ascontiguousarray(gain, dtype=np.float32)
    read_noise = np.ascontiguousarray(read_noise, dtype=np.float32)
    if gain.shape != pdq.shape or read_noise.shape != pdq.shape:
        raise ValueError(f"gain {gain.shape} and read noise {read_noise.shape} must match the "
                         f"science array {pdq.shape}")
    return gain, read_noise


def flag_jumps_inplace(data, groupdq, pixeldq, gain, read_noise, *, nframes: int,
                       rejection_threshold: float = 4.0, three_group_rejection_threshold: float = 6.0,
                       four_group_rejection_threshold: float = 5.0, flag_4_neighbors: bool = True,
                       max_jump_to_flag_neighbors: float = 1000.0,
                       min_jump_to_flag_neighbors: float = 10.0,
                       after_jump_flag_dn1: float = 0.0, after_jump_flag_n1: int = 0,
                       after_jump_flag_dn2: float = 0.0, after_jump_flag_n2: int = 0,
                       minimum_groups: int = 3, minimum_sigclip_groups: int = 100,
                       only_use_ints: bool = True, min_diffs_single_pass: int = 10) -> JumpResult:
    """Find cosmic-ray jumps by two-point differences; flag them in ``groupdq`` IN PLACE.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramp, DN.  Not modified.
    groupdq : ndarray, uint8, same shape
        Group DQ; JUMP_DET is added (and removed from DO_NOT_USE/SATURATED groups).
    pixeldq : ndarray, uint32, (ny, nx)
        Pixel DQ; pixels whose gain is <= 0 or NaN get NO_GAIN_VALUE | DO_NOT_USE.
    gain : ndarray, float32, (ny, nx)
        e-/DN.
    read_noise : ndarray, float32, (ny, nx)
        CDS read noise, DN (the READNOISE reference file convention).
    nframes : int
        Frames averaged per group; the noise of a difference is ``RN_cds^2 / NFRAMES``.
    rejection_threshold, four_group_rejection_threshold, three_group_rejection_threshold : float
        Sigma thresholds for >= 4, 3 and 2 usable differences.
    flag_4_neighbors : bool
        Flag the 4 side neighbours of jumps whose significance (sigma) lies strictly between
        ``min_jump_to_flag_neighbors`` and ``max_jump_to_flag_neighbors``.
    after_jump_flag_dn1, after_jump_flag_dn2 : float
        Jumps of at least this many DN (converted with the median gain) ...
    after_jump_flag_n1, after_jump_flag_n2 : int
        ... also flag this many following groups.  0 = off.
    minimum_groups, minimum_sigclip_groups, only_use_ints, min_diffs_single_pass
        Choice of search, see :func:`choose_method`.

    Returns
    -------
    JumpResult
    """
    gain, read_noise = _check(data, groupdq, pixeldq, gain, read_noise)
    bad_gain = ~(gain > 0)  # also NaN
    pixeldq[bad_gain] |= np.uint32(dqflags.NO_GAIN_VALUE | dqflags.DO_NOT_USE)
    dnu, sat, jump = dqflags.DO_NOT_USE, dqflags.SATURATED, dqflags.JUMP_DET
    method = choose_method(groupdq, minimum_groups=minimum_groups,
                           minimum_sigclip_groups=minimum_sigclip_groups,
                           only_use_ints=only_use_ints, min_diffs_single_pass=min_diffs_single_pass)
    if method == "none":  # no search; stcal still drops JUMP_DET from unusable groups
        nints, ngroups = groupdq.shape[:2]
        for plane in (groupdq[i, g] for i in range(nints) for g in range(ngroups)):
            plane[(plane & jump != 0) & (plane & (dnu | sat) != 0)] &= np.uint8(~jump & 0xFF)
        return JumpResult(0, method)
    if method == "sigma_clip":
        sigma_clip_flags_inplace(data, groupdq, gain, threshold=rejection_threshold,
                                 only_use_ints=only_use_ints, dnu=dnu, sat=sat, jump=jump)
    mode = {"iterative": ITERATIVE, "single_pass": SINGLE_PASS, "sigma_clip": PREFLAGGED}[method]
    median_gain = float(np.nanmedian(gain))
    count = flag_jumps_kernel(
        data, groupdq, gain, read_noise, int(nframes), mode, float(rejection_threshold),
        float(four_group_rejection_threshold), float(three_group_rejection_threshold),
        bool(flag_4_neighbors), float(min_jump_to_flag_neighbors),
        float(max_jump_to_flag_neighbors), after_jump_flag_dn1 * median_gain,
        int(after_jump_flag_n1), after_jump_flag_dn2 * median_gain, int(after_jump_flag_n2),
        dnu, sat, jump, screen_network(data.shape[0], data.shape[1]))
    return JumpResult(int(count), method)
