"""background (jwst ``bkg_subtract``): subtract dedicated background exposures (imaging).

The background members of the exposure's level-2 association (rate or rateints images of the
same detector, already in memory: the pipeline reads them and passes them as
``backgrounds=``) are combined and subtracted:

1. each member is placed on the target's detector window (SUBSTRT/SUBSIZE); pixels outside
   its own window are NaN (they do not vote);
2. a rateints member is first reduced along its integrations: sigma-clipped mean of SCI,
   error of that mean ``sqrt(sum ERR^2) / n`` over the kept integrations, DQ OR-ed;
3. across members: ``astropy.stats.sigma_clip`` (``sigma``, ``maxiters``; clipped about the
   median with the standard deviation, astropy's defaults, as jwst) then the mean of the kept
   values; ERR of the mean ``sqrt(sum ERR^2) / n_kept``; DQ OR of all members;
4. target SCI -= background (every plane of a rateints target); target DQ |= background DQ;
   target ERR is left unchanged, as in jwst.  Pixels without any valid background value get a
   NaN background, hence a NaN SCI that later steps flag DO_NOT_USE.

The same nod/offset subtraction serves the spectroscopic modes with background members (MIRI LRS
nods and offset backgrounds), as in jwst.  WFSS exposures instead get the scaled BKG template
(:mod:`.background_wfss`), with the source mask given by the caller (``source_mask=``: a boolean
array or a callable of the image, True on sources; the grism trace code builds it from the
catalog and WAVELENGTHRANGE).  SOSS backgrounds are not implemented.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning

from ..errors import BadInputError, NotImplementedStepError
from ..models import ExposureMeta, ImageModel
from ..refs.model import RefData
from . import background_wfss
from ._common import ref_array, ref_dq
from ._spectral import WFSS_EXP_TYPES, dispersion_axis
from .base import StepParams, StepReport, skipped

NAME = "background"
STATUS_KEYWORD = "S_BKDSUB"
REFTYPES: tuple[str, ...] = ()
#: The WFSS background template (asked for every exposure; only WFSS uses it).
OPTIONAL_REFTYPES: tuple[str, ...] = ("bkg",)


@dataclass(frozen=True)
class Params(StepParams):
    """background parameters (jwst names).

    Attributes
    ----------
    sigma : float
        Clipping limit, standard deviations (both sides).
    maxiters : int or None
        Clipping iterations; None: until nothing changes.
    save_results : bool
        Also write the background-subtracted exposure (``_bsub`` / ``_bsubints``).
    wfss_maxiter : int
        WFSS: outlier-rejection iterations of the template scaling.
    wfss_rms_stop : float
        WFSS: stop when the residual RMS improves by less than this, percent (0: never).
    wfss_outlier_percent : float
        WFSS: percentile rejected on each side per iteration.
    """

    sigma: float = 3.0
    maxiters: int | None = None
    save_results: bool = False
    wfss_maxiter: int = 5
    wfss_rms_stop: float = 0.0
    wfss_outlier_percent: float = 1.0


@dataclass(frozen=True)
class Background:
    """A combined background: SCI and ERR (bunit of the inputs), DQ uint32, all (ny, nx)."""

    data: np.ndarray
    err: np.ndarray
    dq: np.ndarray


def check_supported(meta: ExposureMeta | None) -> None:
    """SOSS backgrounds (template choice per column range) are not implemented."""
    if meta is not None and "SOSS" in meta.exp_type:
        raise NotImplementedStepError(f"background for {meta.exp_type} (template scaling) is not implemented")


# ------------------------------------------------------------------------------ kernels

def _clip(values: np.ndarray, sigma: float, maxiters: int | None) -> np.ma.MaskedArray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)  # NaN are clipped on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        return sigma_clip(values, sigma=sigma, maxiters=maxiters, axis=0, masked=True)


def clipped_mean_with_error(data: np.ndarray, err: np.ndarray, sigma: float = 3.0,
                            maxiters: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sigma-clipped mean along axis 0 and the error of that mean.

    Parameters
    ----------
    data, err : ndarray, float, (n, ny, nx)
        Samples and their 1-sigma errors (same unit); NaN samples never count.
    sigma, maxiters
        As :func:`astropy.stats.sigma_clip`.

    Returns
    -------
    mean, err_mean : ndarray, float32, (ny, nx)
        Mean of the kept samples and ``sqrt(sum err^2) / n_kept``; NaN where nothing is kept.

    Examples
    --------
    Values 1, 2, 3 with errors 0.3 each: mean 2, error sqrt(3 * 0.09) / 3 = 0.1732.

    >>> m, e = clipped_mean_with_error(np.array([1., 2., 3.])[:, None, None], np.full((3, 1, 1), .3))
    >>> float(m[0, 0]), round(float(e[0, 0]), 4)
    (2.0, 0.1732)
    """
    clipped = _clip(np.asarray(data, np.float64), sigma, maxiters)
    keep = ~np.ma.getmaskarray(clipped) & np.isfinite(err)
    n = keep.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(keep, clipped.data, 0.0).sum(axis=0) / n
        err_mean = np.sqrt(np.where(keep, np.asarray(err, np.float64) ** 2, 0.0).sum(axis=0)) / n
    mean[n == 0] = np.nan
    err_mean[n == 0] = np.nan
    return mean.astype(np.float32), err_mean.astype(np.float32)


def place_on_window(array: np.ndarray, source: ExposureMeta, target: ExposureMeta, fill) -> np.ndarray:
    """``array`` (last two axes on ``source``'s detector window) cut or padded onto
    ``target``'s window (SUBSTRT1/2, SUBSIZE1/2, 1-based); ``fill`` outside ``source``.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from streamcal.models import ExposureMeta
    >>> t = ExposureMeta("t", "NIRCAM", "NRCA1", "NRC_IMAGE", 1, 1, 1, 0, 1.0, 1.0,
    ...                  substrt1=1, substrt2=1, subsize1=3, subsize2=1)
    >>> s = replace(t, substrt1=2, subsize1=2)
    >>> place_on_window(np.array([[5.0, 6.0]]), s, t, np.nan).tolist()
    [[nan, 5.0, 6.0]]
    """
    out = np.full(array.shape[:-2] + (target.subsize2, target.subsize1), fill, dtype=array.dtype)
    x0, x1 = max(source.substrt1, target.substrt1), min(source.substrt1 + source.subsize1,
                                                          target.substrt1 + target.subsize1)
    y0, y1 = max(source.substrt2, target.substrt2), min(source.substrt2 + source.subsize2,
                                                          target.substrt2 + target.subsize2)
    if x1 > x0 and y1 > y0:
        out[..., y0 - target.substrt2:y1 - target.substrt2, x0 - target.substrt1:x1 - target.substrt1] = \
            array[..., y0 - source.substrt2:y1 - source.substrt2, x0 - source.substrt1:x1 - source.substrt1]
    return out


def _member_plane(member: ImageModel, target: ExposureMeta, params: Params):
    """One background member reduced to 2-D on the target window: (sci, err, dq)."""
    sci = place_on_window(np.asarray(member.data, np.float32), member.meta, target, np.nan)
    err = place_on_window(np.asarray(member.err, np.float32), member.meta, target, np.nan)
    dq = place_on_window(np.asarray(member.dq, np.uint32), member.meta, target, 0)
    if sci.ndim == 3:  # rateints: clip along the integrations first
        sci, err = clipped_mean_with_error(sci, err, params.sigma, params.maxiters)
        dq = np.bitwise_or.reduce(dq, axis=0) if dq.ndim == 3 else dq
    return sci, err, dq


def combine_backgrounds(members: Sequence[ImageModel], target: ExposureMeta, params: Params = Params()) -> Background:
    """The combined background of ``members`` on ``target``'s window (steps 1-3 above)."""
    planes = [_member_plane(m, target, params) for m in members]
    sci = np.stack([p[0] for p in planes])
    err = np.stack([p[1] for p in planes])
    mean, err_mean = clipped_mean_with_error(sci, err, params.sigma, params.maxiters)
    dq = np.bitwise_or.reduce(np.stack([p[2] for p in planes]), axis=0)
    return Background(mean, err_mean, dq.astype(np.uint32))


def subtract_inplace(image: ImageModel, background: Background) -> None:
    """Target SCI -= background (broadcast over rateints planes); DQ |= background DQ."""
    image.data -= background.data
    image.dq |= background.dq


# ------------------------------------------------------------------------------ adapter

def _source_mask(image: ImageModel, source_mask) -> np.ndarray | None:
    mask = source_mask(image) if callable(source_mask) else source_mask
    if mask is not None and np.shape(mask) != image.data.shape:
        raise BadInputError(image.meta.filename, "background",
                            f"source mask {np.shape(mask)} does not match the image {image.data.shape}")
    return None if mask is None else np.asarray(mask, bool)


def _enough(image: ImageModel, mask: np.ndarray, template: np.ndarray, from_catalog: bool) -> bool:
    """jwst's check: a catalog mask (the callable) must leave 5 % usable background pixels with
    a non-zero template; a user mask (an array) only has to leave one."""
    if from_catalog:
        return background_wfss.enough_background(image.dq, mask, template)
    return background_wfss.enough_background(image.dq, mask, np.ones_like(template), min_fraction=0.0)


def run_wfss(image: ImageModel, refs: Mapping[str, RefData], params: Params = Params(),
             source_mask=None) -> tuple[ImageModel, StepReport]:
    """Scale the BKG template to a WFSS rate image and subtract it, in place
    (:mod:`.background_wfss`).

    Parameters
    ----------
    source_mask : ndarray of bool, callable or None
        True on sources; a callable gets ``image`` and returns the mask.  None: no source is
        masked (jwst without a catalog).
    """
    if image.data.ndim != 2:
        raise NotImplementedStepError("WFSS background for a rateints cube is not implemented")
    if "bkg" not in refs:
        return image, skipped("no BKG reference file: WFSS background not subtracted")  # as jwst
    shape = image.data.shape
    template = np.asarray(ref_array(refs["bkg"], "SCI", shape, ndim=(2,)), np.float32)
    mask = _source_mask(image, source_mask)
    if mask is None:  # jwst without a catalog: every pixel is background, no count check
        mask = np.zeros(shape, bool)
    elif not _enough(image, mask, template, from_catalog=callable(source_mask)):
        return image, StepReport(status="FAILED", note="too few background pixels outside the sources",
                                 keywords={"BKGSCALE": 0.0})
    m = image.meta
    fit = background_wfss.fit_scale(image.data, image.err, template, mask, percent=params.wfss_outlier_percent,
                                    maxiter=params.wfss_maxiter, rms_stop=params.wfss_rms_stop / 100.0,
                                    dispaxis=dispersion_axis(m.exp_type, m.filter, m.pupil))
    if not np.isfinite(fit.factor):
        return image, StepReport(status="FAILED", note="no finite template scale", keywords={"BKGSCALE": 0.0})
    image.data -= fit.factor * template
    image.dq |= ref_dq(refs["bkg"], shape)
    return image, StepReport(note=f"WFSS template scaled by {fit.factor:.6g} ({fit.iterations} rejection "
                                  f"iterations, {int(mask.sum())} source pixels masked)",
                             keywords={"BKGSCALE": fit.factor})


def run(image: ImageModel, refs: Mapping[str, RefData], params: Params = Params(), *,
        backgrounds: Sequence[ImageModel] = (), source_mask=None) -> tuple[ImageModel, StepReport]:
    """Subtract the combined ``backgrounds`` from ``image`` in place.

    Parameters
    ----------
    image : ImageModel
        Target rate/rateints, DN/s.
    refs : mapping
        Unused for imaging (WFSS/SOSS references are not supported).
    backgrounds : sequence of ImageModel
        The association's background members (rate or rateints, DN/s).
    """
    if params.skip:
        return image, skipped("skipped by parameter")
    check_supported(image.meta)
    if image.meta.exp_type in WFSS_EXP_TYPES:  # the template always runs for WFSS, as in jwst
        return run_wfss(image, refs, params, source_mask)
    if not backgrounds:
        return image, skipped("no background exposures in the association")
    for member in backgrounds:
        if member.bunit != image.bunit:
            raise BadInputError(member.meta.filename, "background",
                                f"background in {member.bunit}, the science exposure in {image.bunit}")
    bkg = combine_backgrounds(backgrounds, image.meta, params)
    subtract_inplace(image, bkg)
    level = float(np.nanmedian(bkg.data)) if np.isfinite(bkg.data).any() else float("nan")
    return image, StepReport(note=f"{len(backgrounds)} background exposures, median level {level:.6g} {image.bunit}")
