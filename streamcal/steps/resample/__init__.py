"""resample: drizzle calibrated images onto a rectified tangent-plane grid (jwst_spec §4.1).

:func:`resample_images` combines one or more ``cal`` images into an ``i2d``
(:class:`~streamcal.models.MosaicModel`); :func:`run` is the single-exposure step adapter
calwebb_image2 uses.  The output grid is built in :mod:`.grid`, the drizzle bookkeeping
(weights, variances, context) lives in :mod:`.drizzle`.

Headers written on the mosaic (jwst ``meta.resample`` keywords): PIXFRAC, RESWHT (weight
type), PXSCLRT (output / input pixel scale), NDRIZ (exposure groups combined), and in SCI the
TAN WCS plus PIXAR_SR / PIXAR_A2 of an output pixel.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Mapping, Sequence

import numpy as np
from astropy.io import fits

from ...errors import NotImplementedStepError
from ...models import ImageModel, MosaicModel
from ...parallel import resolve_cores
from ..base import StepParams, StepReport
from .drizzle import (RESAMPLE_BAD_BITS, DrizzleInput, DrizzleResult, DrizzleSettings, blot,
                      drizzle_images, input_weight)
from ...wcs import MissingPointingError, pointing_from_header, s_region
from .grid import GridRequest, OutputGrid, footprint_grid, mean_pixel_area, output_grid, parse_s_region

NAME = "resample"
STATUS_KEYWORD = "S_RESAMP"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()

KERNELS = ("square", "gaussian", "point", "turbo", "lanczos2", "lanczos3")

__all__ = ["NAME", "STATUS_KEYWORD", "REFTYPES", "OPTIONAL_REFTYPES", "Params", "run",
           "resample_images", "grid_for", "pixel_scale_ratio", "drizzle_inputs", "exposure_group_id", "exposure_time",
           "OutputGrid", "DrizzleInput", "DrizzleSettings", "DrizzleResult", "drizzle_images",
           "blot", "input_weight", "RESAMPLE_BAD_BITS", "fill_value", "sky_level"]


def _pair(value, cast, name: str):
    """None, a 2-sequence, or a "a,b" / "a b" string -> a tuple of two ``cast`` values."""
    if value is None:
        return None
    if isinstance(value, str):
        parts = value.replace(",", " ").split()
        if not parts or parts[0].lower() == "none":
            return None
        value = parts
    items = tuple(cast(v) for v in value)
    if len(items) != 2:
        raise ValueError(f"resample.{name} needs two values, got {value!r}")
    return items


@dataclass(frozen=True)
class Params(StepParams):
    """resample parameters (jwst names and defaults).

    Attributes
    ----------
    pixfrac : float
        Linear shrink factor of input pixels before drizzling, 0 < pixfrac <= 1.
    kernel : str
        'square' (default), 'gaussian', 'point', 'turbo', 'lanczos2', 'lanczos3'.
    fillval : str
        Output value where nothing landed ('NAN' or a number).
    weight_type : str
        'ivm' (1/VAR_RNOISE) or 'exptime'.
    output_shape : (nx, ny) or None
        Output size, jwst's [x, y] order.
    crpix : (x, y) or None
        0-based reference pixel of the output.
    crval : (ra, dec) or None
        deg at ``crpix``.
    rotation : float or None
        Position angle of output +y, deg east of north (None: as the first input).
    pixel_scale_ratio : float
        Output / input pixel scale (ignored when ``pixel_scale`` is given).
    pixel_scale : float or None
        Output pixel scale, arcsec.
    enable_ctx, enable_err, report_var : bool
        Make CON; make ERR from the variances; keep the VAR_* arrays in the product.
    pixmap_stepsize : float
        Evaluate the WCS every this many pixels and interpolate the pixel map (1: exact).
        A full-frame map costs ~1-4 s exactly, ~0.2-0.3 s with 10; on the synthetic NIRCam
        distortion the error is 1e-4 pixel with ``pixmap_order`` 1 and 1e-8 with 3.
    pixmap_order : int
        1 (bilinear) or 3 (bicubic) interpolation of the pixel map.
    maximum_cores : str
        Processes to drizzle with (stcal's convention: 'none', 'quarter', 'half', 'all' or a
        number; :mod:`streamcal.parallel`).  Not a jwst resample parameter: jwst uses one.
    """

    pixfrac: float = 1.0
    kernel: str = "square"
    fillval: str = "NAN"
    weight_type: str = "ivm"
    output_shape: tuple[int, int] | None = None
    crpix: tuple[float, float] | None = None
    crval: tuple[float, float] | None = None
    rotation: float | None = None
    pixel_scale_ratio: float = 1.0
    pixel_scale: float | None = None
    enable_ctx: bool = True
    enable_err: bool = True
    report_var: bool = True
    pixmap_stepsize: float = 1.0
    pixmap_order: int = 1
    maximum_cores: str = "1"

    def __post_init__(self):
        resolve_cores(self.maximum_cores)  # validates
        for name, cast in (("output_shape", int), ("crpix", float), ("crval", float)):
            object.__setattr__(self, name, _pair(getattr(self, name), cast, name))
        if not 0.0 < self.pixfrac <= 1.0:
            raise ValueError(f"resample.pixfrac must be in (0, 1], got {self.pixfrac}")
        if self.kernel not in KERNELS:
            raise ValueError(f"resample.kernel must be one of {', '.join(KERNELS)}, got {self.kernel!r}")
        if self.weight_type not in ("ivm", "exptime"):
            raise ValueError(f"resample.weight_type must be 'ivm' or 'exptime', got {self.weight_type!r}")
        if not self.pixel_scale_ratio > 0 or (self.pixel_scale is not None and not self.pixel_scale > 0):
            raise ValueError("resample pixel scales must be positive")
        fill_value(self.fillval)  # validates
        if self.pixmap_order not in (1, 3) or not self.pixmap_stepsize >= 1:
            raise ValueError("resample.pixmap_order must be 1 or 3 and pixmap_stepsize >= 1")

    def settings(self, pixel_scale_ratio: float) -> DrizzleSettings:
        return DrizzleSettings(pixfrac=self.pixfrac, kernel=self.kernel, fillval=fill_value(self.fillval),
                               weight_type=self.weight_type, pixel_scale_ratio=pixel_scale_ratio,
                               pixmap_stepsize=self.pixmap_stepsize, pixmap_order=self.pixmap_order)


def fill_value(text: str) -> float:
    """jwst ``fillval``: 'NAN' / 'INDEF' -> NaN, else a number."""
    if str(text).strip().upper() in ("NAN", "INDEF"):
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"resample.fillval must be 'NAN' or a number, got {text!r}") from None


# --------------------------------------------------------------------------- model adapters

def exposure_group_id(header: fits.Header, fallback: str = "") -> str:
    """jwst's exposure group: all detectors of one exposure share it (program, observation,
    visit, visit group, sequence, activity, exposure number); ``fallback`` when unknown."""
    keys = ("PROGRAM", "OBSERVTN", "VISIT", "VISITGRP", "SEQ_ID", "ACT_ID", "EXPOSURE")
    values = [str(header.get(k, "")).strip() for k in keys]
    if not all(values):
        return fallback
    program, obs, visit, vgrp, seq, act, expo = values
    return f"jw{program.zfill(5)}{obs.zfill(3)}{visit.zfill(3)}_{vgrp.zfill(2)}{seq}{act.zfill(2)}_{expo.zfill(5)}"


def exposure_time(header: fits.Header) -> float:
    """Seconds used by ``weight_type='exptime'``: TMEASURE, else EFFEXPTM, XPOSURE, EXPTIME; 1."""
    for key in ("TMEASURE", "EFFEXPTM", "XPOSURE", "EXPTIME"):
        value = header.get(key)
        if isinstance(value, (int, float)) and value > 0:
            return float(value)
    return 1.0


def sky_level(model: ImageModel) -> float:
    """BKGLEVEL to subtract: set by skymatch and not yet subtracted (BKGSUB false)."""
    level = model.header.get("BKGLEVEL")
    if level is None or bool(model.header.get("BKGSUB", False)):
        return 0.0
    return float(level)


def drizzle_inputs(models: Sequence[ImageModel]) -> list[DrizzleInput]:
    """Models as drizzle inputs (2-D only).

    Raises
    ------
    ValueError
        A model without a WCS (assign_wcs has not run) or with 3-D data.
    """
    out = []
    for model in models:
        name = model.meta.filename
        if model.wcs is None:
            raise ValueError(f"{name}: no WCS (assign_wcs must run before resample)")
        if model.data.ndim != 2:
            raise ValueError(f"{name}: resample takes 2-D images, got shape {model.data.shape}")
        variances = {"var_rnoise": model.var_rnoise, "var_poisson": model.var_poisson,
                     "var_flat": model.var_flat}
        out.append(DrizzleInput(data=model.data, dq=model.dq, wcs=model.wcs,
                                variances={k: v for k, v in variances.items() if v is not None},
                                exptime=exposure_time(model.header), level=sky_level(model)))
    return out


def grid_for(models: Sequence[ImageModel], params: Params = Params(), *, as_jwst: bool = True) -> OutputGrid:
    """The output grid for ``models`` (resample's, and outlier_detection's and skymatch's).

    By default jwst 3.0's grid (:func:`.grid.footprint_grid`, what jwst's
    ``resampled_wcs_from_models`` gives for the same ``_cal`` files): footprints from each
    input's S_REGION, or from its WCS's valid area as assign_wcs writes S_REGION when the
    header has none, orientation and scale from the first input's pointing keywords.  Inputs
    without pointing keywords, or ``as_jwst=False``, get the covering grid
    (:func:`.grid.output_grid`: every input pixel edge inside, orientation from the WCS).
    """
    shape = None if params.output_shape is None else (params.output_shape[1], params.output_shape[0])
    request = GridRequest(pixel_scale_ratio=params.pixel_scale_ratio, pixel_scale=params.pixel_scale,
                          rotation=params.rotation, crpix=params.crpix, crval=params.crval, output_shape=shape)
    pointing = _first_pointing(models) if as_jwst else None
    if pointing is not None:
        return footprint_grid([_footprint_of(m) for m in models], models[0].wcs, pointing, request)
    return output_grid([m.wcs for m in models], [m.data.shape for m in models], **asdict(request))


def _first_pointing(models: Sequence[ImageModel]):
    try:
        return pointing_from_header(models[0].sci_header) if models else None
    except MissingPointingError:
        return None


def _footprint_of(model: ImageModel) -> np.ndarray:
    """(4, 2) RA, Dec corners of an input: its S_REGION (what jwst reads; tweakreg keeps it
    current), else the same polygon computed from its WCS."""
    region = model.sci_header.get("S_REGION")
    if not (isinstance(region, str) and region.strip()):
        region = s_region(model.wcs, model.data.shape)
    return parse_s_region(region)


def pixel_scale_ratio(model: ImageModel, grid: OutputGrid, params: Params) -> float:
    """Output / input pixel scale as jwst records it (PXSCLRT) and scales the variances by:
    the requested ``pixel_scale_ratio`` (the grid's scale is the first input's times it), or
    with ``pixel_scale`` given, that scale over the first input's mean pixel scale."""
    if params.pixel_scale is None:
        return float(params.pixel_scale_ratio)
    return grid.pixel_scale_deg / math.sqrt(mean_pixel_area(model.wcs, model.data.shape))


def resample_images(models: Sequence[ImageModel], params: Params = Params()) -> MosaicModel:
    """Drizzle-combine calibrated images into a mosaic (``i2d``).

    Parameters
    ----------
    models : sequence of ImageModel
        2-D ``cal`` images with a WCS; SCI in surface brightness (MJy/sr, or DN/s per pixel),
        VAR_* in its square.  BKGLEVEL is subtracted when skymatch set it without subtracting.
        Pixels with DO_NOT_USE or NON_SCIENCE, or non-finite SCI, get no weight.
    params : Params
        jwst resample parameters.

    Returns
    -------
    MosaicModel
        SCI/ERR (bunit of the inputs), WHT, CON (int32, (ninputs-1)//32+1 planes), VAR_*
        (only kinds every input has, and only with ``report_var``), the grid's gwcs, the input
        names in CON bit order, the first input's primary header plus the resample keywords,
        and a SCI header with the TAN WCS, BUNIT, PIXAR_SR, PIXAR_A2.

    Raises
    ------
    ValueError
        No inputs, or inputs without WCS / not 2-D.
    """
    if not models:
        raise ValueError("resample needs at least one image")
    inputs = drizzle_inputs(models)
    grid = grid_for(models, params)
    ratio = pixel_scale_ratio(models[0], grid, params)
    result = drizzle_images(inputs, grid, params.settings(ratio), variances=params.enable_err,
                            context=params.enable_ctx, processes=resolve_cores(params.maximum_cores))
    return _mosaic(models, grid, result, params, ratio)


def _mosaic(models, grid: OutputGrid, result: DrizzleResult, params: Params, ratio: float) -> MosaicModel:
    first = models[0]
    header = first.header.copy()
    groups = {exposure_group_id(m.header, m.meta.filename): exposure_time(m.header) for m in models}
    header["PIXFRAC"] = (params.pixfrac, "drizzle pixel shrink factor")
    header["RESWHT"] = (params.weight_type, "drizzle input weighting")
    header["PXSCLRT"] = (ratio, "output / input pixel scale")
    header["NDRIZ"] = (len(groups), "exposure groups drizzled")
    header["EFFEXPTM"] = (float(sum(groups.values())), "[s] summed over exposure groups")
    sci_header = grid.fits_header()
    sci_header["BUNIT"] = first.bunit
    sci_header["PIXAR_SR"] = (grid.pixel_area_sr, "[sr] nominal area of an output pixel")
    sci_header["PIXAR_A2"] = (grid.pixel_area_sr * (180 / math.pi * 3600) ** 2,
                              "[arcsec^2] nominal area of an output pixel")
    keep = result.variances if params.report_var else {}
    err = result.err if result.err is not None else np.full(grid.shape, np.nan, np.float32)
    return MosaicModel(header=header, data=result.data.astype(np.float32, copy=False), err=err,
                       wht=result.wht.astype(np.float32, copy=False), con=result.con, wcs=grid.gwcs(),
                       members=[m.meta.filename for m in models], var_poisson=keep.get("var_poisson"),
                       var_rnoise=keep.get("var_rnoise"), var_flat=keep.get("var_flat"),
                       sci_header=sci_header, bunit=first.bunit)


def run(model: ImageModel | Sequence[ImageModel], refs: Mapping, params: Params) -> tuple[MosaicModel, StepReport]:
    """Step adapter: one exposure (calwebb_image2's quick-look ``i2d``) or the list of
    exposures of an association (calwebb_image3).

    Returns the *mosaic* (a new :class:`MosaicModel`); the input models are not changed, so a
    pipeline keeps writing its ``cal`` from them.

    Raises
    ------
    NotImplementedStepError
        3-D (``calints``) input: jwst resamples only 2-D images.
    ValueError
        No WCS on a model.
    """
    models = [model] if isinstance(model, ImageModel) else list(model)
    if any(m.data.ndim != 2 for m in models):
        raise NotImplementedStepError("resample: per-integration (3-D) input is not resampled (jwst skips it)")
    mosaic = resample_images(models, params)
    return mosaic, StepReport(note=f"i2d {mosaic.data.shape[1]}x{mosaic.data.shape[0]} pixels "
                                   f"from {len(models)} image(s)")
