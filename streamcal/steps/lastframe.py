"""lastframe (MIRI): flag the final group of every integration DO_NOT_USE.

The last frame of a MIRI integration is affected by the reset of the next one.  Applied when
NGROUPS > 2 (so at least two groups are left for a slope); otherwise skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..models import RampModel
from ..refs.model import RefData
from .base import StepParams, StepReport, skipped
from .firstframe import flag_group_inplace

NAME = "lastframe"
STATUS_KEYWORD = "S_LASTFR"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """lastframe has no parameters besides ``skip``."""


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Flag the last group DO_NOT_USE in place (MIRI, NGROUPS > 2)."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if not model.meta.is_miri:
        return model, skipped("lastframe applies to MIRI only")
    ngroups = model.data.shape[1]
    if ngroups <= 2:
        return model, skipped(f"NGROUPS={ngroups} <= 2: last group kept")
    flag_group_inplace(model.groupdq, -1)
    return model, StepReport(note=f"group {ngroups - 1} flagged DO_NOT_USE")
