"""jump: flag cosmic-ray jumps in the ramps by two-point differences (jwst JumpStep).

Reference files: GAIN (e-/DN) and READNOISE (CDS read noise, DN).  The algorithm is stcal's
two-point difference method (see :mod:`.twopoint` for the rules); the snowball
(``expand_large_events``) and MIRI shower (``find_showers``) extensions are not implemented and
raise :class:`~streamcal.errors.NotImplementedStepError` when switched on.

Kernels: :func:`flag_jumps_inplace` (whole exposure), :func:`~.twopoint.iterative_search` and
:func:`~.twopoint.single_pass_search` (one pixel), :func:`choose_method`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ...errors import NotImplementedStepError
from ...models import RampModel
from ...refs.model import RefData
from ..base import StepParams, StepReport, skipped
from .detect import JumpResult, choose_method, count_all_dnu_planes, flag_jumps_inplace

__all__ = ["NAME", "STATUS_KEYWORD", "REFTYPES", "OPTIONAL_REFTYPES", "Params", "run",
           "flag_jumps_inplace", "choose_method", "JumpResult", "primary_cr_rate"]

NAME = "jump"
STATUS_KEYWORD = "S_JUMP"
REFTYPES = ("gain", "readnoise")
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """jwst JumpStep parameters (code defaults of jwst 3.0).

    Attributes
    ----------
    rejection_threshold : float
        Jump threshold, sigma, for ramps with >= 4 usable differences.
    three_group_rejection_threshold : float
        Threshold, sigma, with 2 usable differences (3 groups).
    four_group_rejection_threshold : float
        Threshold, sigma, with 3 usable differences (4 groups).
    maximum_cores : str
        Accepted for jwst compatibility; streamcal uses one core per exposure.
    flag_4_neighbors : bool
        Also flag the 4 side neighbours of a jump.
    max_jump_to_flag_neighbors, min_jump_to_flag_neighbors : float
        Neighbours are flagged only for jumps between these significances, sigma.
    after_jump_flag_dn1, after_jump_flag_dn2 : float
        Jumps of at least this size, DN, ...
    after_jump_flag_time1, after_jump_flag_time2 : float
        ... also flag the groups within this time after them, s (0 = off).
    expand_large_events : bool
        Snowball flagging (not implemented).
    find_showers : bool
        MIRI shower flagging (not implemented).
    min_diffs_single_pass : int
        With at least this many usable differences per integration, flag all outliers at once.
    minimum_groups : int
        Fewer usable groups than this: no search.
    minimum_sigclip_groups : int
        With this many integrations (``only_use_ints``) or groups, use sigma clipping.
    only_use_ints : bool
        Sigma clipping compares a group only with the same group in other integrations.
    """

    rejection_threshold: float = 4.0
    three_group_rejection_threshold: float = 6.0
    four_group_rejection_threshold: float = 5.0
    maximum_cores: str = "1"
    flag_4_neighbors: bool = True
    max_jump_to_flag_neighbors: float = 1000.0
    min_jump_to_flag_neighbors: float = 10.0
    after_jump_flag_dn1: float = 0.0
    after_jump_flag_time1: float = 0.0
    after_jump_flag_dn2: float = 0.0
    after_jump_flag_time2: float = 0.0
    expand_large_events: bool = False
    find_showers: bool = False
    min_diffs_single_pass: int = 10
    minimum_groups: int = 3
    minimum_sigclip_groups: int = 100
    only_use_ints: bool = True

    def __post_init__(self):
        for name in ("rejection_threshold", "three_group_rejection_threshold",
                     "four_group_rejection_threshold", "max_jump_to_flag_neighbors",
                     "min_jump_to_flag_neighbors", "after_jump_flag_time1", "after_jump_flag_time2"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"jump.{name} must be >= 0, got {getattr(self, name)}")


def primary_cr_rate(n_primary: int, gdq: np.ndarray, tgroup: float) -> float | None:
    """The PRIMECRS keyword exactly as jwst computes it: jump groups per pixel per 1000 s.

    ``1000 * n_primary / (TGROUP * usable_groups * npix)``, usable groups being all groups minus
    all-DO_NOT_USE planes minus one per integration; ``None`` when no group is usable.
    """
    nints, ngroups, ny, nx = gdq.shape
    total_groups = nints * ngroups - int(count_all_dnu_planes(gdq).sum()) - nints
    if total_groups < 1:
        return None
    return 1000.0 * n_primary / (tgroup * total_groups * ny * nx)


def run(model: RampModel, refs: Mapping[str, RefData], params: Params) -> tuple[RampModel, StepReport]:
    """Flag jumps in ``model.groupdq`` (and bad-gain pixels in ``model.pixeldq``) in place."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if params.expand_large_events or params.find_showers:
        raise NotImplementedStepError("jump: expand_large_events (snowballs) and find_showers "
                                      "(MIRI showers) are not implemented in streamcal")
    missing = [r for r in REFTYPES if r not in refs]
    if missing:
        return model, skipped(f"no {', '.join(missing)} reference file applies")
    meta = model.meta
    if model.data.shape[1] < 3:
        return model, skipped(f"cannot detect jumps with NGROUPS={model.data.shape[1]} < 3")
    result = flag_jumps_inplace(
        model.data, model.groupdq, model.pixeldq, refs["gain"].arrays["SCI"],
        refs["readnoise"].arrays["SCI"], nframes=meta.nframes,
        rejection_threshold=params.rejection_threshold,
        three_group_rejection_threshold=params.three_group_rejection_threshold,
        four_group_rejection_threshold=params.four_group_rejection_threshold,
        flag_4_neighbors=params.flag_4_neighbors,
        max_jump_to_flag_neighbors=params.max_jump_to_flag_neighbors,
        min_jump_to_flag_neighbors=params.min_jump_to_flag_neighbors,
        after_jump_flag_dn1=params.after_jump_flag_dn1,
        after_jump_flag_n1=int(params.after_jump_flag_time1 // meta.tgroup),
        after_jump_flag_dn2=params.after_jump_flag_dn2,
        after_jump_flag_n2=int(params.after_jump_flag_time2 // meta.tgroup),
        minimum_groups=params.minimum_groups, minimum_sigclip_groups=params.minimum_sigclip_groups,
        only_use_ints=params.only_use_ints, min_diffs_single_pass=params.min_diffs_single_pass)
    if result.method == "none":
        return model, StepReport(note="too few usable groups: no jump search was made")
    keywords = {}
    rate = primary_cr_rate(result.n_primary, model.groupdq, meta.tgroup)
    if rate is not None:
        keywords = {"PRIMECRS": rate, "EXTNCRS": 0.0}
    return model, StepReport(note=f"{result.method} search, {result.n_primary} jump groups",
                             keywords=keywords)
