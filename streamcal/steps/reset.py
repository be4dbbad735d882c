"""reset (MIRI, RESET reference): subtract the reset-anomaly model.

The RESET reference SCI is (nints_ref, ngroups_ref, ny, nx) DN (a 3-D file is one integration).
Science integration ``i`` (counted in the whole exposure, so segments use INTSTART) is corrected
with reference integration ``min(i, nints_ref - 1)``: later integrations reuse the last one.  Only
the first ``min(NGROUPS, ngroups_ref)`` groups are corrected.  NaN in the reference is 0;
PIXELDQ |= reference DQ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..models import RampModel
from ..refs.model import RefData
from ._common import integration_start, or_dq, ref_array, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "reset"
STATUS_KEYWORD = "S_RESET"
REFTYPES = ("reset",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """reset has no parameters besides ``skip``."""


def subtract_reset_inplace(data: np.ndarray, reset: np.ndarray, int_start: int = 1) -> None:
    """Subtract the reset model group by group.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN; corrected in place.
    reset : ndarray, float, (nints_ref, ngroups_ref, ny, nx)
        Reset anomaly, DN; NaN counts as 0.
    int_start : int
        1-based exposure integration number of ``data[0]`` (INTSTART of a segment).

    Examples
    --------
    >>> d = np.zeros((3, 3, 1, 1), np.float32)
    >>> r = np.array([[1.0, 2.0], [3.0, np.nan]]).reshape(2, 2, 1, 1)
    >>> subtract_reset_inplace(d, r); d[:, :, 0, 0].tolist()
    [[-1.0, -2.0, 0.0], [-3.0, 0.0, 0.0], [-3.0, 0.0, 0.0]]
    """
    nref, gref = reset.shape[:2]
    for i in range(data.shape[0]):
        ir = min(int_start - 1 + i, nref - 1)
        for g in range(min(data.shape[1], gref)):
            plane = np.nan_to_num(reset[ir, g], nan=0.0).astype(np.float32)
            data[i, g] -= plane


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Subtract the reset anomaly from ``model.data`` in place (MIRI only)."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if not model.meta.is_miri:
        return model, skipped("reset applies to MIRI only")
    if "reset" not in refs:
        return model, skipped("no reset reference file applies")
    ref = refs["reset"]
    shape = model.pixeldq.shape
    reset = ref_array(ref, "SCI", shape, ndim=(3, 4))
    if reset.ndim == 3:
        reset = reset[np.newaxis]
    subtract_reset_inplace(model.data, reset, integration_start(model.header))
    or_dq(model.pixeldq, ref_dq(ref, shape))
    return model, StepReport(note=f"reset model of {reset.shape[0]} integration(s) x {reset.shape[1]} groups")
