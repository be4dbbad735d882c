"""group_scale: undo the on-board divide-by-power-of-two frame averaging (no reference file).

The flight software averages NFRAMES frames into a group by summing and dividing by FRMDIVSR, a
power of two.  When NFRAMES differs from FRMDIVSR the stored groups are too low (or high) by
NFRAMES/FRMDIVSR, so every group is multiplied by FRMDIVSR/NFRAMES.  Otherwise the step is
SKIPPED, as in jwst.

MIRI FASTGRPAVG* read patterns average MIRNFRMS x FRMDIVSR frames exactly although the raw header
says NFRAMES=1; jwst sets NFRAMES = MIRNFRMS * FRMDIVSR, which makes the step a no-op.  This
adapter does the same: it updates ``model.meta.nframes`` and the NFRAMES header keyword (reported
in the StepReport keywords) and skips.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from ..models import RampModel
from ..refs.model import RefData
from .base import StepParams, StepReport, skipped

NAME = "group_scale"
STATUS_KEYWORD = "S_GRPSCL"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """group_scale has no parameters besides ``skip``."""


def scale_groups_inplace(data: np.ndarray, factor: float) -> None:
    """Multiply every group of every integration by ``factor``, one integration at a time.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN; scaled in place.
    factor : float
        FRMDIVSR / NFRAMES, dimensionless.

    Examples
    --------
    >>> d = np.full((1, 2, 1, 1), 5.0, np.float32); scale_groups_inplace(d, 8 / 5); d.ravel().tolist()
    [8.0, 8.0]
    """
    f = np.float32(factor)
    for i in range(data.shape[0]):
        data[i] *= f


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Rescale ``model.data`` in place when NFRAMES != FRMDIVSR."""
    if params.skip:
        return model, skipped("skipped by parameter")
    meta = model.meta
    if meta.is_miri and meta.readpatt.startswith("FASTGRPAVG"):
        nframes = int(model.header.get("MIRNFRMS", 1) or 1) * meta.frmdivsr
        model.meta = replace(meta, nframes=nframes)
        model.header["NFRAMES"] = nframes
        return model, StepReport(status="SKIPPED", keywords={"NFRAMES": nframes},
                                 note=f"MIRI {meta.readpatt}: groups are exact averages; NFRAMES set to "
                                      f"MIRNFRMS*FRMDIVSR = {nframes}, no scaling needed")
    if meta.nframes == meta.frmdivsr:
        return model, skipped(f"NFRAMES = FRMDIVSR = {meta.nframes}: no rescaling needed")
    factor = meta.frmdivsr / meta.nframes
    scale_groups_inplace(model.data, factor)
    return model, StepReport(note=f"groups multiplied by FRMDIVSR/NFRAMES = {meta.frmdivsr}/{meta.nframes}")
