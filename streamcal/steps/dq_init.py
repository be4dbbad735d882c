"""dq_init: initialise the DQ arrays from the MASK reference file.

PIXELDQ |= mask DQ (already translated to standard bits and cut to the subarray by the
reference loader), and the DO_NOT_USE bit of the mask is copied into every group of GROUPDQ so
those pixels get no slope.  Subarray reference pixels are identified here: the mask carries
REFERENCE_PIXEL on them.

Guider exposures (FGS_ACQ1/2, TRACK, FINEGUIDE, ID-*): jwst writes the mask into their 2-D DQ;
here that DQ is ``pixeldq``, which guider_cds passes on unchanged.  GROUPDQ is updated too for
uniformity (guider_cds does not read it).  jwst's ``user_supplied_dq`` (a file) is not a step
parameter here: reading files is the pipeline's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..models import RampModel
from ..refs.model import RefData
from ._common import or_dq, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "dq_init"
STATUS_KEYWORD = "S_DQINIT"
REFTYPES = ("mask",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """dq_init has no parameters besides ``skip``."""


def apply_mask_inplace(pixeldq: np.ndarray, groupdq: np.ndarray, mask_dq: np.ndarray) -> int:
    """OR the mask into PIXELDQ and its DO_NOT_USE bit into every group of GROUPDQ.

    Parameters
    ----------
    pixeldq : ndarray, uint32, (ny, nx)
        Updated in place.
    groupdq : ndarray, uint8, (nints, ngroups, ny, nx)
        Updated in place (DO_NOT_USE only: GROUPDQ holds bits 0-7).
    mask_dq : ndarray, uint32, (ny, nx)
        Mask reference DQ in standard bit values.

    Returns
    -------
    int
        Number of DO_NOT_USE pixels copied into GROUPDQ.

    Examples
    --------
    >>> p = np.zeros((1, 2), np.uint32); g = np.zeros((1, 2, 1, 2), np.uint8)
    >>> apply_mask_inplace(p, g, np.array([[1 | 1024, 2048]], np.uint32))
    1
    >>> p.tolist(), g[0, :, 0].tolist()
    ([[1025, 2048]], [[1, 0], [1, 0]])
    """
    or_dq(pixeldq, mask_dq)
    dnu = (mask_dq & dqflags.DO_NOT_USE) != 0
    n = int(dnu.sum())
    if n:
        groupdq[..., dnu] |= np.uint8(dqflags.DO_NOT_USE)
    return n


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Initialise ``model.pixeldq``/``groupdq`` from the mask, in place."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if "mask" not in refs:
        return model, skipped("no mask reference file applies")
    mask = ref_dq(refs["mask"], model.pixeldq.shape)
    n = apply_mask_inplace(model.pixeldq, model.groupdq, mask)
    return model, StepReport(note=f"{n} DO_NOT_USE pixels from the mask")
