"""firstframe (MIRI, deprecated in jwst 3.0, skipped by default): flag group 0 DO_NOT_USE.

When NGROUPS > 3, group 0 of every integration gets DO_NOT_USE in GROUPDQ (the first frame
after reset carries the reset anomaly); with 3 groups or fewer the step is skipped so a slope
can still be fitted.  The RSCD step now does this flagging in jwst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..models import RampModel
from ..refs.model import RefData
from .base import StepParams, StepReport, skipped

NAME = "firstframe"
STATUS_KEYWORD = "S_FRSTFR"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """Deprecated step: skipped by default (``skip=True``)."""

    skip: bool = True


def flag_group_inplace(groupdq: np.ndarray, group: int) -> None:
    """OR DO_NOT_USE into one group of every integration.

    Parameters
    ----------
    groupdq : ndarray, uint8, (nints, ngroups, ny, nx)
        Updated in place.
    group : int
        Group index (negative counts from the end).

    Examples
    --------
    >>> g = np.zeros((2, 3, 1, 1), np.uint8); flag_group_inplace(g, -1); g[:, :, 0, 0].tolist()
    [[0, 0, 1], [0, 0, 1]]
    """
    groupdq[:, group] |= np.uint8(dqflags.DO_NOT_USE)


def flag_miri_group(model: RampModel, params: StepParams, step: str, group: int,
                    more_than: int) -> tuple[RampModel, StepReport]:
    """The adapter firstframe and lastframe share: flag ``group`` DO_NOT_USE in place in MIRI
    exposures of more than ``more_than`` groups."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if not model.meta.is_miri:
        return model, skipped(f"{step} applies to MIRI only")
    ngroups = model.data.shape[1]
    if ngroups <= more_than:
        return model, skipped(f"NGROUPS={ngroups} <= {more_than}: group {group % ngroups} kept")
    flag_group_inplace(model.groupdq, group)
    return model, StepReport(note=f"group {group % ngroups} flagged DO_NOT_USE")


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Flag group 0 DO_NOT_USE in place (MIRI, NGROUPS > 3)."""
    return flag_miri_group(model, params, NAME, 0, 3)
