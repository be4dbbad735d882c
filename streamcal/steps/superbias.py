"""superbias: subtract the bias level (SUPERBIAS reference SCI) from every group (NIR only).

NaN in the superbias is treated as 0 (no subtraction for that pixel), PIXELDQ |= superbias DQ,
and the ZEROFRAME (when present) is corrected too, except where it is 0: a zero ZEROFRAME value
means "saturated/bad" to later steps, so it is kept at 0 (as jwst does).  MIRI has no
superbias step: the adapter skips for MIRI exposures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..models import RampModel
from ..refs.model import RefData
from ._common import nan_to_zero, or_dq, ref_array, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "superbias"
STATUS_KEYWORD = "S_SUPERB"
REFTYPES = ("superbias",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """superbias has no parameters besides ``skip``."""


def subtract_bias_inplace(data: np.ndarray, bias: np.ndarray) -> None:
    """Subtract a 2-D bias from every group, one plane at a time.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN; corrected in place.
    bias : ndarray, float32, (ny, nx)
        Superbias, DN, NaN already replaced by 0.

    Examples
    --------
    >>> d = np.full((1, 2, 1, 2), 100.0, np.float32)
    >>> subtract_bias_inplace(d, np.array([[10.0, 0.0]], np.float32)); d[0, :, 0].tolist()
    [[90.0, 100.0], [90.0, 100.0]]
    """
    for i in range(data.shape[0]):
        for g in range(data.shape[1]):
            data[i, g] -= bias


def subtract_bias_zeroframe_inplace(zeroframe: np.ndarray, bias: np.ndarray) -> None:
    """Subtract the bias from ZEROFRAME (nints, ny, nx), DN, leaving 0 ("bad") values at 0.

    Examples
    --------
    >>> z = np.array([[[0.0, 50.0]]], np.float32)
    >>> subtract_bias_zeroframe_inplace(z, np.array([[10.0, 10.0]], np.float32)); z.tolist()
    [[[0.0, 40.0]]]
    """
    for i in range(zeroframe.shape[0]):
        bad = zeroframe[i] == 0
        zeroframe[i] -= bias
        zeroframe[i][bad] = 0


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Subtract the superbias from ``model.data`` (and ZEROFRAME) in place."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if model.meta.is_miri:
        return model, skipped("superbias applies to near-IR detectors only")
    if "superbias" not in refs:
        return model, skipped("no superbias reference file applies")
    ref = refs["superbias"]
    shape = model.pixeldq.shape
    bias = nan_to_zero(ref_array(ref, "SCI", shape, ndim=(2,)))
    subtract_bias_inplace(model.data, bias)
    or_dq(model.pixeldq, ref_dq(ref, shape))
    if model.zeroframe is not None and model.meta.zeroframe:
        subtract_bias_zeroframe_inplace(model.zeroframe, bias)
    return model, StepReport()
