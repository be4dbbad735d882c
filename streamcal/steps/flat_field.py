"""flat_field (FLAT reference) for count-rate images: imaging (calwebb_image2, NIRSpec imaging
included) and guider products (calwebb_guider).

SCI /= flat.  Flat pixels that are NaN, <= 0 or DO_NOT_USE are treated as 1 (no correction) and
get NO_FLAT_FIELD | DO_NOT_USE in the reference DQ that is OR-ed into the product DQ (jwst rule);
a NaN flat ERR counts as 0.  The FLAT is selected per detector and FILTER/PUPIL by the
reference set.

Imaging (the product has VAR_POISSON/VAR_RNOISE), as jwst ``apply_flat_field`` does -- divide
first, then use the divided SCI::

    SCI_out = SCI_in / F ;  VAR_POISSON /= F^2 ;  VAR_RNOISE /= F^2
    VAR_FLAT = SCI_out^2 * ERR_F^2 / F^2
    ERR = sqrt(VAR_POISSON + VAR_RNOISE + VAR_FLAT)

then NaN and DO_NOT_USE are made to agree (jwst ``match_nans_and_flags``).  rateints cubes are
handled plane by plane (the 2-D flat broadcasts).

Guider products (no variances): with S = SCI / flat,
``ERR^2 = (ERR_in / flat)^2 + S^2 (flat_err / flat)^2``.  jwst 3.0 does not divide the guider
CDS term by the flat (it keeps ``ERR_in^2``); streamcal does, which matters only where the flat
is far from 1 (noted in the report).  Guider DQ is 2-D while SCI is 3-D: the 2-D flat applies
to every plane and no NaN/flag matching happens (shapes differ, as in jwst).

NIRSpec imaging EXP_TYPEs (NRS_IMAGE, NRS_TACQ, ...) are flat-fielded like every imager, with
the FLAT selected for them (jwst ``do_flat_field``); only NIRSpec spectroscopy
(:data:`NRS_SPECTRAL_EXP_TYPES`) uses jwst's three-part flats (FFLAT, SFLAT, DFLAT), which
belong to calwebb_spec2 and are not implemented.

Spectra other than NIRSpec (calwebb_spec2, jwst 3.0): MIR_LRS-FIXEDSLIT, MIR_LRS-SLITLESS and the
slitless grisms (NRC_WFSS, NIS_WFSS, NRC_TSGRISM, MIR_WFSS) take the same single FLAT and the same
arithmetic as imaging; what differs lies outside the arithmetic:

- the FLAT is the one CRDS selects for the spectral element (P750L; the grism with its
  blocking filter/pupil), cut to the exposure's subarray (SLITLESSPRISM, grism subarrays) by the
  reference loader exactly as for imaging subarrays;
- WFSS and TSGRISM are flat-fielded on the whole dispersed frame, *before* extract_2d (the grism
  branch of spec2 runs flat_field first); an image on which extract_2d has already run
  (S_EXTR2D = COMPLETE: a cutout) is skipped, as jwst skips every non-NIRSpec mode then;
- LRS is flat-fielded after srctype, on the full rate/rateints (no cutout).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..errors import NotImplementedStepError
from ..models import ImageModel
from ..refs.model import RefData
from ._common import match_nans_and_flags, or_dq, ref_array, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "flat_field"
STATUS_KEYWORD = "S_FLAT"
REFTYPES = ("flat",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()

#: Non-NIRSpec spectral EXP_TYPEs, flat-fielded like imaging (module docstring).
SPECTRAL_EXP_TYPES = frozenset({"MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_WFSS", "NRC_WFSS", "NIS_WFSS",
                                "NRC_TSGRISM", "NRC_GRISM"})
ERR_NOTE = "ERR_in divided by the flat (jwst 3.0 keeps the guider CDS ERR undivided)"
#: NIRSpec spectroscopic EXP_TYPEs: jwst flat-fields them with FFLAT/SFLAT/DFLAT (unless
#: LAMP_MODE = IMAGE; the lamp types have no stage 2 in the routing table, so never come here).
NRS_SPECTRAL_EXP_TYPES = frozenset({"NRS_AUTOWAVE", "NRS_BRIGHTOBJ", "NRS_FIXEDSLIT", "NRS_IFU", "NRS_LAMP",
                                    "NRS_MSASPEC"})


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
        ``flat_dq`` with NO_FLAT_FIELD | DO_NOT_USE where the flat was unusable.

    Examples
    --------
    >>> f, e, dq = prepare_flat(np.array([[2.0, np.nan]]), None, np.zeros((1, 2), np.uint32))
    >>> f.tolist(), e.tolist(), dq.tolist()
    ([[2.0, 1.0]], [[0.0, 0.0]], [[0, 262145]])
    """
    f = np.array(flat, dtype=np.float32)
    e = np.zeros_like(f) if flat_err is None else np.nan_to_num(np.array(flat_err, np.float32), nan=0.0)
    dq = np.array(flat_dq, dtype=np.uint32)
    bad = ~np.isfinite(f) | (f <= 0) | ((dq & (dqflags.DO_NOT_USE | dqflags.NO_FLAT_FIELD)) != 0)
    f[bad] = 1.0
    e[bad] = 0.0
    dq[bad] |= np.uint32(dqflags.NO_FLAT_FIELD | dqflags.DO_NOT_USE)
    return f, e, dq


def apply_flat_inplace(image: ImageModel, flat: np.ndarray, flat_err: np.ndarray) -> None:
    """Divide SCI by the flat and propagate the uncertainties, in place.

    With VAR_POISSON/VAR_RNOISE present (rate images) they are divided by flat^2, VAR_FLAT is
    set and ERR rebuilt from the three (module docstring); otherwise (guider) ERR is
    propagated directly.

    Parameters
    ----------
    image : ImageModel
        SCI/ERR DN/s, (ny, nx) or (nplanes, ny, nx); variances (DN/s)^2.
    flat, flat_err : ndarray, float32, (ny, nx)
        From :func:`prepare_flat`, dimensionless.

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
    flat_sq = flat * flat
    var_flat = (image.data * image.data / flat_sq * (flat_err * flat_err)).astype(np.float32)
    if image.var_poisson is not None and image.var_rnoise is not None:
        image.var_poisson /= flat_sq
        image.var_rnoise /= flat_sq
        image.var_flat = var_flat
        image.err[...] = np.sqrt(image.var_poisson + image.var_rnoise + var_flat)
    else:
        image.err[...] = np.sqrt((image.err / flat) ** 2 + var_flat)


def check_supported(meta) -> None:
    """Raise :class:`NotImplementedStepError` for exposures whose flat streamcal cannot apply
    (called by the pipeline runner before it looks for reference files): NIRSpec spectroscopy,
    which uses jwst's three-part flats.  NIRSpec imaging takes the FLAT like any imager.

    Examples
    --------
    >>> from types import SimpleNamespace as Meta
    >>> check_supported(Meta(instrument="NIRSPEC", exp_type="NRS_IMAGE"))  # fine
    >>> check_supported(Meta(instrument="NIRSPEC", exp_type="NRS_IFU"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    streamcal.errors.NotImplementedStepError: flat_field for NIRSpec NRS_IFU needs ...
    """
    if meta is not None and meta.instrument == "NIRSPEC" and meta.exp_type in NRS_SPECTRAL_EXP_TYPES:
        raise NotImplementedStepError(
            f"flat_field for NIRSpec {meta.exp_type} needs the spectroscopic FFLAT/SFLAT/DFLAT flats "
            "(calwebb_spec2), which streamcal does not implement yet")


def run(image: ImageModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Flat-field ``image`` in place; DQ |= flat DQ."""
    if params.skip:
        return image, skipped("skipped by parameter")
    if not isinstance(image, ImageModel):
        return image, skipped("flat_field needs a count-rate image (guider_cds did not run)")
    if "flat" not in refs:
        return image, skipped("no flat reference file applies")
    check_supported(image.meta)
    if str(image.header.get("S_EXTR2D", "")).strip().upper() == "COMPLETE":
        # jwst flat-fields grism data before extract_2d; a cutout would get the flat twice
        return image, skipped(f"extract_2d already ran on this {image.meta.exp_type} image: not flat-fielded")
    ref = refs["flat"]
    shape = image.data.shape[-2:]
    flat_err = ref_array(ref, "ERR", shape, ndim=(2,)) if "ERR" in ref.arrays else None
    flat, flat_err, flat_dq = prepare_flat(ref_array(ref, "SCI", shape, ndim=(2,)), flat_err,
                                           ref_dq(ref, shape))
    apply_flat_inplace(image, flat, flat_err)
    or_dq(image.dq, flat_dq)
    match_nans_and_flags(image.data, image.dq, image.err, image.var_poisson, image.var_rnoise,
                         image.var_flat)
    nbad = int(((flat_dq & dqflags.NO_FLAT_FIELD) != 0).sum())
    note = f"{nbad} pixels without flat (NO_FLAT_FIELD)"
    return image, StepReport(note=note if image.var_rnoise is not None else f"{note}; {ERR_NOTE}")
