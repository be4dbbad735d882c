"""stack_refs: every integration of every PSF-reference exposure of a coronagraphic
association in one cube (jwst 3.0 ``stack_refs``; calwebb_coron3's ``_psfstack``).

The planes are taken member by member, integration by integration, in association order.
SCI and ERR are carried in float64 (as jwst builds the stack; the product stores them as
float32), DQ is the members' uint32 DQ unchanged.  The header is the first member's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from ..models import ImageModel
from .base import StepParams, StepReport

__all__ = ["NAME", "STATUS_KEYWORD", "Params", "stack_cubes", "stack_refs", "run"]

NAME = "stack_refs"
STATUS_KEYWORD = "S_PSFSTK"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """stack_refs has no parameter of its own (jwst's spec is empty)."""


def stack_cubes(arrays: Sequence[np.ndarray], dtype=np.float64) -> np.ndarray:
    """Concatenate (nints_k, ny, nx) cubes along the integration axis.

    Parameters
    ----------
    arrays : sequence of ndarray
        One cube per PSF exposure; a 2-D image counts as one integration.
    dtype : numpy dtype

    Raises
    ------
    ValueError
        No cube, or cubes whose frames differ in shape (jwst: "All PSF exposures must have the
        same x/y dimensions").
    """
    if not arrays:
        raise ValueError("stack_refs needs at least one PSF exposure")
    frames = {a.shape[-2:] for a in arrays}
    if len(frames) != 1:
        raise ValueError(f"All PSF exposures must have the same x/y dimensions, got {sorted(frames)}")
    return np.concatenate([np.asarray(a, dtype=dtype).reshape((-1,) + a.shape[-2:]) for a in arrays])


def stack_refs(models: Sequence[ImageModel]) -> ImageModel:
    """The ``_psfstack`` cube of the PSF members (module docstring).

    Parameters
    ----------
    models : sequence of ImageModel
        The PSF members' ``calints`` (or their ``crfints``): SCI/ERR in one unit, DQ uint32.

    Returns
    -------
    ImageModel
        A new 3-D model, (sum of NINTS, ny, nx); VAR_* are not carried (jwst's stack has none).
    """
    models = list(models)
    data = stack_cubes([m.data for m in models])
    err = stack_cubes([m.err for m in models])
    dq = stack_cubes([m.dq for m in models], np.uint32)
    first = models[0]
    header = first.header.copy()
    header["NINTS"] = data.shape[0]
    return replace(first, header=header, data=data, err=err, dq=dq, var_poisson=None, var_rnoise=None,
                   var_flat=None, area=None, int_times=None,
                   meta=replace(first.meta, nints=data.shape[0]))


def run(models: Sequence[ImageModel], refs: Mapping, params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Step adapter (calwebb_coron3)."""
    out = stack_refs(models)
    return out, StepReport(note=f"{len(models)} PSF exposures, {out.data.shape[0]} integrations stacked")
