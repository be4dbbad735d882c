"""lastframe (MIRI): flag the final group of every integration DO_NOT_USE.

The last frame of a MIRI integration is affected by the reset of the next one.  Applied when
NGROUPS > 2 (so at least two groups are left for a slope); otherwise skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..models import RampModel
from ..refs.model import RefData
from .base import StepParams, StepReport
from .firstframe import flag_miri_group

NAME = "lastframe"
STATUS_KEYWORD = "S_LASTFR"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """lastframe has no parameters besides ``skip``."""


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Flag the last group DO_NOT_USE in place (MIRI, NGROUPS > 2)."""
    return flag_miri_group(model, params, NAME, -1, 2)
