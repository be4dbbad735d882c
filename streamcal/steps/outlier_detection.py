"""outlier_detection for imaging: flag cosmic rays and other outliers against the median of the
dithered stack (jwst_spec §5.1; jwst ``outlier_detection`` imaging mode).

1. Each exposure group (all detectors of one exposure) is drizzled onto the common output grid
   (resample's), with ``good_bits`` ~DO_NOT_USE, BKGLEVEL subtracted when skymatch left it in.
2. Pixels of a group mosaic whose weight is below ``maskpt`` x the (3-sigma clipped) mean
   non-zero weight are ignored.
3. The median of the group mosaics, pixel by pixel.
4. The median is blotted (bilinear interpolation) back onto every input and the sky level
   (``backg``, or BKGLEVEL when not subtracted) added.
5. ``deriv`` = the largest absolute difference between a blotted pixel and its 4 neighbours.
   Outliers: ``|SCI - blot| > scale1 * deriv + snr1 * ERR`` (primary hits), grown by one pixel
   in every direction (a 3x3 box), and kept where ``|SCI - blot| > scale2 * deriv + snr2 * ERR``.
6. Flagged pixels get OUTLIER | DO_NOT_USE and NaN in SCI, ERR and VAR_*; as jwst does, every
   DO_NOT_USE pixel ends with NaN and every NaN pixel with DO_NOT_USE.

With ``resample_data=False`` (aligned inputs) the median of the inputs themselves is used and a
pixel is an outlier where ``|SCI - median| > snr1 * ERR``.  The products are jwst's ``crf``.

TSO mode (:func:`detect_tso_outliers`, one ``calints`` cube; jwst ``tso`` mode, calwebb_tso3):
the weight of a pixel is 1 where its DQ passes ``good_bits``, else 0; with
1 < ``rolling_window_width`` < NINTS, pixels under ``maskpt`` x the clipped mean weight are set
to NaN and the median over a window of that many integrations (NaN-propagating, stored at the
window's centre, the edges copied from the nearest full window) is the reference of each
integration; otherwise the NaN-ignoring median of all integrations.  An outlier is
``|SCI - median| > snr1 * ERR``, flagged as in the imaging mode.  The products are ``crfints``.

Coron mode (:func:`detect_coron_outliers`, calwebb_coron3): as TSO mode with the median of all
integrations, pixels under ``maskpt`` x the clipped mean weight left out of it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np
from astropy.stats import sigma_clip
from scipy import ndimage

from .. import dqflags
from ..models import ImageModel
from ..parallel import map_parts, resolve_cores
from .base import StepParams, StepReport, skipped
from .resample import DrizzleSettings, blot, drizzle_inputs, drizzle_images, exposure_group_id, grid_for
from .resample import fill_value, input_weight, sky_level
from .skymatch import bad_bits_from

NAME = "outlier_detection"
STATUS_KEYWORD = "S_OUTLIR"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()

FLAG = dqflags.OUTLIER | dqflags.DO_NOT_USE


def _two_floats(text: str, name: str) -> tuple[float, float]:
    try:
        values = tuple(float(v) for v in str(text).replace(",", " ").split())
    except ValueError:
        values = ()
    if len(values) != 2:
        raise ValueError(f"outlier_detection.{name} must be two numbers like '5.0 4.0', got {text!r}")
    return values  # type: ignore[return-value]


@dataclass(frozen=True)
class Params(StepParams):
    """outlier_detection parameters (jwst names and defaults, imaging mode).

    Attributes
    ----------
    weight_type, pixfrac, kernel, fillval
        Drizzle settings of the group mosaics ('ivm' / 1.0 / 'square' / 'NAN').
    maskpt : float
        Weight threshold, fraction of the mean weight.
    snr : str
        "primary secondary" detection thresholds in sigma ("5.0 4.0").
    scale : str
        "primary secondary" multipliers of the derivative image ("1.2 0.7").
    backg : float
        Sky level added to the blot when no BKGLEVEL applies, SCI units.
    resample_data : bool
        Drizzle to a common grid (dithered data) or compare the inputs directly.
    good_bits : str
        DQ bits that still allow a pixel to be used (jwst syntax, "~DO_NOT_USE").
    pixmap_stepsize, pixmap_order
        Pixel-map interpolation, as in resample (1 / 1: exact).
    maximum_cores : str
        Processes for the group mosaics, as in resample (not a jwst parameter).
    rolling_window_width : int
        TSO mode: integrations in the rolling median (25).
    """

    weight_type: str = "ivm"
    pixfrac: float = 1.0
    kernel: str = "square"
    fillval: str = "NAN"
    maskpt: float = 0.7
    snr: str = "5.0 4.0"
    scale: str = "1.2 0.7"
    backg: float = 0.0
    resample_data: bool = True
    good_bits: str = "~DO_NOT_USE"
    pixmap_stepsize: float = 1.0
    pixmap_order: int = 1
    maximum_cores: str = "1"
    rolling_window_width: int = 25

    def __post_init__(self):
        resolve_cores(self.maximum_cores)  # validates
        _two_floats(self.snr, "snr")
        _two_floats(self.scale, "scale")
        if self.kernel not in ("square", "point", "turbo"):
            raise ValueError(f"outlier_detection.kernel must be square, point or turbo, got {self.kernel!r}")
        if self.weight_type not in ("ivm", "exptime"):
            raise ValueError(f"outlier_detection.weight_type must be 'ivm' or 'exptime', got {self.weight_type!r}")
        if not 0 < self.pixfrac <= 1 or not 0 <= self.maskpt <= 1:
            raise ValueError("outlier_detection: pixfrac must be in (0, 1] and maskpt in [0, 1]")
        bad_bits_from(self.good_bits)
        fill_value(self.fillval)
        if self.pixmap_order not in (1, 3) or not self.pixmap_stepsize >= 1:
            raise ValueError("outlier_detection.pixmap_order must be 1 or 3 and pixmap_stepsize >= 1")


# ------------------------------------------------------------------------------- kernels

def weight_threshold(weight: np.ndarray, maskpt: float) -> float:
    """``maskpt`` x the mean of the 3-sigma clipped (5 rounds) finite non-zero weights."""
    values = weight[np.isfinite(weight) & (weight != 0)]
    if values.size == 0:
        return 0.0
    clipped = sigma_clip(values, sigma=3, maxiters=5, masked=False, copy=True)
    return float(np.mean(clipped, dtype=np.float64)) * maskpt


def abs_derivative(image: np.ndarray) -> np.ndarray:
    """Largest absolute difference between each pixel and its 4 neighbours (finite ones only);
    NaN where the pixel itself is NaN.

    >>> abs_derivative(np.array([[0.0, 1.0, 0.0]])).tolist()
    [[1.0, 1.0, 1.0]]
    """
    out = np.zeros_like(image)
    with np.errstate(invalid="ignore"):
        for axis in (0, 1):
            diff = np.abs(np.diff(image, axis=axis))
            diff = np.where(np.isfinite(diff), diff, 0.0)
            lo = [slice(None)] * 2
            hi = [slice(None)] * 2
            lo[axis], hi[axis] = slice(None, -1), slice(1, None)
            out[tuple(lo)] = np.maximum(out[tuple(lo)], diff)
            out[tuple(hi)] = np.maximum(out[tuple(hi)], diff)
    out[np.isnan(image)] = np.nan
    return out


def flag_against_blot(sci: np.ndarray, err: np.ndarray, blotted: np.ndarray, snr: tuple[float, float],
                      scale: tuple[float, float], backg: float = 0.0) -> np.ndarray:
    """jwst's two-threshold outlier test.

    Parameters
    ----------
    sci, err : ndarray, float, (ny, nx)
        Input image and its uncertainty (NaN ERR counts as 0).
    blotted : ndarray, float, (ny, nx)
        The median blotted onto the input (NaN where unknown: never flagged).
    snr, scale : (primary, secondary)
        Thresholds in sigma and derivative multipliers.
    backg : float
        Sky level of ``sci`` not contained in ``blotted``.

    Returns
    -------
    ndarray of bool
        True for outliers.
    """
    noise = np.nan_to_num(err)
    deriv = abs_derivative(blotted)
    with np.errstate(invalid="ignore"):
        diff = np.abs(sci - blotted - backg)
        primary = diff > scale[0] * deriv + snr[0] * noise
        secondary = diff > scale[1] * deriv + snr[1] * noise
    grown = ndimage.binary_dilation(primary, structure=np.ones((3, 3), bool))
    return grown & secondary


def nan_median(stack: np.ndarray) -> np.ndarray:
    """Median along axis 0 ignoring NaN (the mean of the two middle values for an even count,
    as ``np.nanmedian``); NaN where every plane is NaN.

    One sort along the stack (NaN sorts last) and a pick by the count of finite values: ~4x
    quicker than ``np.nanmedian`` on a few full-frame planes, same values.

    >>> nan_median(np.array([[1.0, np.nan], [4.0, np.nan], [2.0, 5.0], [np.nan, np.nan]])).tolist()
    [2.0, 5.0]
    """
    ordered = np.sort(stack, axis=0)
    count = np.isfinite(stack).sum(axis=0)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0)[None], axis=0)[0]
    high = np.take_along_axis(ordered, (count // 2)[None], axis=0)[0]
    return np.where(count > 0, (low + high) * np.float32(0.5), np.nan).astype(np.float32)


def moving_median(cube: np.ndarray, width: int) -> np.ndarray:
    """Median over ``width`` consecutive planes (axis 0), stored at the window's centre plane
    (index start + width // 2); the planes before the first / after the last full window copy
    the nearest one.  NaN in a window gives NaN (``np.median``), as jwst's rolling median.
    (For ``width`` 2 jwst 3.0 then overwrites every plane with the last median, an indexing
    slip at ``-0``; here only the first plane is filled.)

    >>> moving_median(np.arange(5.0)[:, None], 3).ravel().tolist()
    [1.0, 1.0, 2.0, 3.0, 3.0]
    """
    if not 1 < width <= cube.shape[0]:
        raise ValueError(f"rolling median window must be in 2..{cube.shape[0]}, got {width}")
    out = np.full(cube.shape, np.nan)
    half, odd = divmod(width, 2)
    for start in range(cube.shape[0] - width + 1):
        np.median(cube[start:start + width], axis=0, out=out[start + half])
    out[:half] = out[half]
    tail = half if odd else half - 1
    if tail:
        out[-tail:] = out[-tail - 1]
    return out


def tso_median(data: np.ndarray, dq: np.ndarray, params: Params) -> np.ndarray:
    """The reference each integration of a TSO cube is compared with (module docstring).

    Parameters
    ----------
    data : ndarray, float (nints, ny, nx)
    dq : ndarray, uint32 (nints, ny, nx)
    params : Params
        ``good_bits``, ``maskpt``, ``rolling_window_width``.

    Returns
    -------
    ndarray (nints, ny, nx)
        SCI units.
    """
    width = params.rolling_window_width
    if not 1 < width < data.shape[0]:
        return np.broadcast_to(nan_median(data), data.shape)
    weight = ((dq & np.uint32(bad_bits_from(params.good_bits))) == 0).astype(np.float32)
    masked = np.array(data, dtype=np.float32, copy=True)
    masked[weight < weight_threshold(weight, params.maskpt)] = np.nan
    return moving_median(masked, width)


def detect_tso_outliers(model: ImageModel, params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Flag outliers in one TSO cube against the (rolling) median of its integrations.

    Parameters
    ----------
    model : ImageModel
        3-D ``calints`` (SCI/ERR in one unit, DQ uint32).
    params : Params
        TSO mode uses ``snr`` (primary value), ``maskpt``, ``good_bits``, ``rolling_window_width``.

    Returns
    -------
    model : ImageModel
        A new model (the ``crfints`` content); the input is untouched.
    report : StepReport
        SKIPPED for 2-D data (calwebb_tso3 does so); the note gives the pixels flagged.
    """
    if params.skip:
        return model, skipped("skipped by parameter")
    if model.data.ndim != 3:
        return model, skipped(f"TSO outlier detection needs a 3-D cube, got shape {model.data.shape}")
    snr = _two_floats(params.snr, "snr")[0]
    median = tso_median(model.data, model.dq, params)
    with np.errstate(invalid="ignore"):
        outliers = np.abs(model.data - median) > snr * np.nan_to_num(model.err)
    width = params.rolling_window_width
    how = f"rolling median of {width}" if 1 < width < model.data.shape[0] else "median of all integrations"
    return _apply(model, outliers), StepReport(note=f"tso mode ({how}): {int(outliers.sum())} outlier pixels")


def coron_median(data: np.ndarray, dq: np.ndarray, params: Params) -> np.ndarray:
    """The reference of every integration of a coronagraphic cube (jwst ``coron`` mode): the
    NaN-ignoring median of all integrations, pixels whose DQ weight (1 where DQ passes
    ``good_bits``) is under ``maskpt`` x the clipped mean weight left out.

    Returns
    -------
    ndarray (ny, nx)
        SCI units.
    """
    weight = ((dq & np.uint32(bad_bits_from(params.good_bits))) == 0).astype(np.float32)
    masked = np.array(data, dtype=np.float32, copy=True)
    masked[weight < weight_threshold(weight, params.maskpt)] = np.nan
    return nan_median(masked)


def detect_coron_outliers(model: ImageModel, params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Flag outliers in one coronagraphic cube against the median of its integrations
    (calwebb_coron3; ``|SCI - median| > snr1 * ERR``, flagged as in the other modes).

    Parameters
    ----------
    model : ImageModel
        3-D ``calints`` (SCI/ERR in one unit, DQ uint32).
    params : Params
        Uses ``snr`` (primary value), ``maskpt``, ``good_bits``.

    Returns
    -------
    model : ImageModel
        A new model (the ``crfints`` content).
    report : StepReport
    """
    if params.skip:
        return model, skipped("skipped by parameter")
    if model.data.ndim != 3:
        raise ValueError(f"coron outlier detection needs a 3-D cube, got shape {model.data.shape}")
    snr = _two_floats(params.snr, "snr")[0]
    median = coron_median(model.data, model.dq, params)
    with np.errstate(invalid="ignore"):
        outliers = np.abs(model.data - median) > snr * np.nan_to_num(model.err)
    return _apply(model, outliers), StepReport(note=f"coron mode: {int(outliers.sum())} outlier pixels")


def run_tso(model: ImageModel, refs: Mapping, params: Params) -> tuple[ImageModel, StepReport]:
    """Step adapter for calwebb_tso3: one exposure's cube at a time."""
    return detect_tso_outliers(model, params)


# ------------------------------------------------------------------------------- medians

def _groups(models: Sequence[ImageModel]) -> list[list[int]]:
    by_id: dict[str, list[int]] = {}
    for i, model in enumerate(models):
        by_id.setdefault(exposure_group_id(model.header, f"#{i}"), []).append(i)
    return list(by_id.values())


def resampled_median(models: Sequence[ImageModel], params: Params):
    """The median of the exposure-group mosaics on resample's default grid.

    Returns
    -------
    median : ndarray, float32 (ny, nx)
        SCI units (sky subtracted where BKGLEVEL applied); NaN where no group has weight.
    grid : OutputGrid
    """
    grid = grid_for(models)
    inputs = drizzle_inputs(models)
    settings = DrizzleSettings(pixfrac=params.pixfrac, kernel=params.kernel, fillval=np.nan,
                               weight_type=params.weight_type, bad_bits=bad_bits_from(params.good_bits),
                               pixmap_stepsize=params.pixmap_stepsize, pixmap_order=params.pixmap_order)
    parts = [([inputs[i] for i in members], grid, settings, params.maskpt) for members in _groups(models)]
    planes = map_parts(group_mosaic, parts, resolve_cores(params.maximum_cores))
    return nan_median(np.stack(planes)), grid


def group_mosaic(inputs: Sequence, grid, settings: DrizzleSettings, maskpt: float) -> np.ndarray:
    """One exposure group drizzled onto ``grid``, NaN where its weight is below ``maskpt`` x
    the typical weight (float32, SCI units)."""
    result = drizzle_images(inputs, grid, settings, variances=False, context=False)
    data = result.data.copy()
    data[result.wht < weight_threshold(result.wht, maskpt)] = np.nan
    return data


def _aligned_median(models: Sequence[ImageModel], params: Params) -> np.ndarray:
    shapes = {m.data.shape for m in models}
    if len(shapes) != 1:
        raise ValueError(f"resample_data=False needs images of one shape, got {sorted(shapes)}")
    planes = []
    for item in drizzle_inputs(models):
        weight = input_weight(item, params.weight_type, bad_bits_from(params.good_bits))
        data = (item.data - np.float32(item.level)).astype(np.float32)
        data[weight < weight_threshold(weight, params.maskpt)] = np.nan
        planes.append(data)
    return nan_median(np.stack(planes))


# ------------------------------------------------------------------------------- models

def _apply(model: ImageModel, outliers: np.ndarray) -> ImageModel:
    """A copy with OUTLIER | DO_NOT_USE on ``outliers`` and NaN/DO_NOT_USE made consistent."""
    dq = model.dq | np.where(outliers, np.uint32(FLAG), np.uint32(0))
    bad = ((dq & np.uint32(dqflags.DO_NOT_USE)) != 0) | ~np.isfinite(model.data)
    dq = dq | np.where(bad, np.uint32(dqflags.DO_NOT_USE), np.uint32(0))

    def nan_where_bad(array):
        if array is None:
            return None
        out = np.array(array, dtype=np.float32, copy=True)
        out[bad] = np.nan
        return out

    return replace(model, data=nan_where_bad(model.data), err=nan_where_bad(model.err), dq=dq,
                   var_poisson=nan_where_bad(model.var_poisson), var_rnoise=nan_where_bad(model.var_rnoise),
                   var_flat=nan_where_bad(model.var_flat))


def detect_outliers(models: Sequence[ImageModel], params: Params = Params()) -> tuple[list[ImageModel], StepReport]:
    """Flag outliers in every image of a dithered set; see the module docstring.

    Parameters
    ----------
    models : sequence of ImageModel
        2-D ``cal`` images with WCS (SCI/ERR in one unit, DQ uint32).
    params : Params

    Returns
    -------
    models : list of ImageModel
        New models (the ``crf`` content); inputs are untouched.
    report : StepReport
        SKIPPED with fewer than 2 images (jwst); the note gives the pixels flagged per image.
    """
    if params.skip:
        return list(models), skipped("skipped by parameter")
    if len(models) < 2:
        return list(models), skipped(f"outlier detection needs at least 2 images, got {len(models)}")
    snr, scale = _two_floats(params.snr, "snr"), _two_floats(params.scale, "scale")
    out, counts = [], []
    if params.resample_data:
        median, grid = resampled_median(models, params)
    else:
        median, grid = _aligned_median(models, params), None
    for model in models:
        level = sky_level(model) if "BKGLEVEL" in model.header else params.backg
        if grid is not None:
            blotted = blot(median, grid, model.wcs, model.data.shape, stepsize=params.pixmap_stepsize,
                           order=params.pixmap_order)
            outliers = flag_against_blot(model.data, model.err, blotted, snr, scale, level)
        else:
            with np.errstate(invalid="ignore"):
                outliers = np.abs(model.data - median - level) > snr[0] * np.nan_to_num(model.err)
        counts.append(int(outliers.sum()))
        out.append(_apply(model, outliers))
    return out, StepReport(note="outliers flagged per image: " + ", ".join(map(str, counts)))


def run(models: Sequence[ImageModel], refs: Mapping, params: Params) -> tuple[list[ImageModel], StepReport]:
    """Step adapter: a stage-3 step takes the list of exposures of the association."""
    return detect_outliers(models, params)
