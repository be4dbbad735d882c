"""flat_field (FLAT reference) for count-rate images; in streamcal used by calwebb_guider.

SCI /= flat.  Flat pixels that are NaN, <= 0 or DO_NOT_USE are treated as 1 (no correction) and
get NO_FLAT_FIELD in the reference DQ that is OR-ed into the product DQ (jwst rule); a NaN flat
ERR counts as 0.

Uncertainty, physically: with S = SCI / flat,
``ERR^2 = (ERR_in / flat)^2 + S^2 (flat_err / flat)^2``.  jwst 3.0 does not divide the guider
CDS term by the flat (it keeps ``ERR_in^2``); streamcal does, which matters only where the flat
is far from 1 (noted in the report).  When the product carries VAR_POISSON/VAR_RNOISE (rate
images) they are divided by flat^2 and ERR is rebuilt from them plus the flat term, as jwst
does for imaging.

DQ may be 2-D while SCI is 3-D (guider products): the 2-D flat applies to every plane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..models import ImageModel
from ..refs.model import RefData
from ._common import or_dq, ref_array, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "flat_field"
STATUS_KEYWORD = "S_FLAT"
REFTYPES = ("flat",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()

ERR_NOTE = "ERR_in divided by the flat (jwst 3.0 keeps the guider CDS ERR undivided)"


@dataclass(frozen=True)
class Params(StepParams):
    """flat_field has no streamcal parameters besides ``skip``."""


def prepare_flat(flat: np.ndarray, flat_err: np.ndarray | None, flat_dq: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat, its error and DQ with unusable pixels neutralised.

    Parameters
    ----------
    flat : ndarray, float, (ny, nx)
        Flat, dimensionless.
    flat_err : ndarray or None, (ny, nx)
        Its uncertainty, dimensionless.
    flat_dq : ndarray, uint32, (ny, nx)
        Reference DQ, standard bits.

    Returns
    -------
    flat, flat_err : ndarray, float32
        1 and 0 where the flat is NaN, <= 0 or DO_NOT_USE; NaN errors -> 0.
    dq : ndarray, uint32
        ``flat_dq`` with NO_FLAT_FIELD where the flat was unusable.

    Examples
    --------
    >>> f, e, dq = prepare_flat(np.array([[2.0, np.nan]]), None, np.zeros((1, 2), np.uint32))
    >>> f.tolist(), e.tolist(), dq.tolist()
    ([[2.0, 1.0]], [[0.0, 0.0]], [[0, 262144]])
    """
    f = np.array(flat, dtype=np.float32)
    e = np.zeros_like(f) if flat_err is None else np.nan_to_num(np.array(flat_err, np.float32), nan=0.0)
    dq = np.array(flat_dq, dtype=np.uint32)
    bad = ~np.isfinite(f) | (f <= 0) | ((dq & dqflags.DO_NOT_USE) != 0)
    f[bad] = 1.0
    e[bad] = 0.0
    dq[bad] |= np.uint32(dqflags.NO_FLAT_FIELD)
    return f, e, dq


def apply_flat_inplace(image: ImageModel, flat: np.ndarray, flat_err: np.ndarray) -> None:
    """Divide SCI by the flat and propagate ERR (and VAR_* when present), in place.

    Parameters
    ----------
    image : ImageModel
        SCI/ERR DN/s, (ny, nx) or (nplanes, ny, nx).
    flat, flat_err : ndarray, float32, (ny, nx)
        From :func:`prepare_flat`.

    Examples
    --------
    SCI 10, ERR 1, flat 2 +- 0.1: SCI 5, ERR sqrt(0.5^2 + (5 * 0.05)^2) = 0.559.

    >>> from astropy.io import fits
    >>> im = ImageModel(None, fits.Header(), np.full((1, 1, 1), 10, np.float32),
    ...                 np.ones((1, 1, 1), np.float32), np.zeros((1, 1), np.uint32))
    >>> apply_flat_inplace(im, np.full((1, 1), 2, np.float32), np.full((1, 1), .1, np.float32))
    >>> float(im.data[0, 0, 0]), round(float(im.err[0, 0, 0]), 3)
    (5.0, 0.559)
    """
    image.data /= flat
    rel = (flat_err / flat).astype(np.float32)
    flat_var = (image.data * rel) ** 2
    if image.var_poisson is not None and image.var_rnoise is not None:
        image.var_poisson /= flat ** 2
        image.var_rnoise /= flat ** 2
        image.err[...] = np.sqrt(image.var_poisson + image.var_rnoise + flat_var)
    else:
        image.err[...] = np.sqrt((image.err / flat) ** 2 + flat_var)


def run(image: ImageModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Flat-field ``image`` in place; DQ |= flat DQ."""
    if params.skip:
        return image, skipped("skipped by parameter")
    if not isinstance(image, ImageModel):
        return image, skipped("flat_field needs a count-rate image (guider_cds did not run)")
    if "flat" not in refs:
        return image, skipped("no flat reference file applies")
    ref = refs["flat"]
    shape = image.data.shape[-2:]
    flat_err = ref_array(ref, "ERR", shape, ndim=(2,)) if "ERR" in ref.arrays else None
    flat, flat_err, flat_dq = prepare_flat(ref_array(ref, "SCI", shape, ndim=(2,)), flat_err,
                                           ref_dq(ref, shape))
    apply_flat_inplace(image, flat, flat_err)
    or_dq(image.dq, flat_dq)
    nbad = int(((flat_dq & dqflags.NO_FLAT_FIELD) != 0).sum())
    return image, StepReport(note=f"{nbad} pixels without flat (NO_FLAT_FIELD); {ERR_NOTE}")
