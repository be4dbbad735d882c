"""Drizzle combination of images onto an :class:`~.grid.OutputGrid` (the kernel of resample).

Everything here works on plain arrays plus a gwcs per input; :mod:`streamcal.steps.resample`
adapts models to it.  The drizzle algorithm itself is the ``drizzle`` package (Fruchter & Hook
2002, the C code jwst uses); what is written here is jwst's bookkeeping around it:

* input weights (``weight_type``): ``'ivm'`` = 1 / VAR_RNOISE, ``'exptime'`` = the exposure
  time, ``None`` = 1, each times the good-pixel mask: none of ``bad_bits`` set (resample:
  DO_NOT_USE, NON_SCIENCE -- jwst's good_bits "~DO_NOT_USE+NON_SCIENCE") and finite SCI;
* variances (jwst's ``from_var``): sqrt(VAR_*) is drizzled like the data and squared; per
  output pixel ``VAR = sum(w_k^2 VAR_k) / (sum w_k)^2`` with ``w_k`` the resampled 1/VAR_RNOISE
  (``ivm``) or exposure time, divided by pixel_scale_ratio^2; ERR = sqrt of the sum of the
  variances;
* context (CON): int32 (nplanes, ny, nx), bit k of plane p = input 32 p + k contributed.

Units: SCI in surface brightness (MJy/sr or DN/s per pixel); drizzle averages it (``in_units``
"cps", ``iscale`` 1), so surface brightness is kept and flux = SB x pixel area is conserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from drizzle.resample import Drizzle, blot_image

from ... import dqflags
from ...parallel import map_parts, split
from .grid import OutputGrid
from .pixmap import pixmap

#: jwst resample's good bits: every flag except DO_NOT_USE and NON_SCIENCE leaves a pixel usable.
RESAMPLE_BAD_BITS = dqflags.DO_NOT_USE | dqflags.NON_SCIENCE
#: Variance arrays in the order they are drizzled (VAR_RNOISE first: it makes the ivm weights).
VARIANCES = ("var_rnoise", "var_poisson", "var_flat")


@dataclass
class DrizzleInput:
    """One 2-D image to drizzle.

    Attributes
    ----------
    data : ndarray, float32, (ny, nx)
        Surface brightness; the sky ``level`` is subtracted before drizzling.
    dq : ndarray, uint32, (ny, nx)
        DQ bits.
    wcs : gwcs.WCS
        0-based pixel -> ICRS deg.
    variances : dict
        ``{"var_rnoise": ..., "var_poisson": ..., "var_flat": ...}`` (units of SCI squared);
        absent or None entries are skipped.
    exptime : float
        Seconds (TMEASURE or EFFEXPTM) for the ``exptime`` weighting.
    level : float
        Sky level to subtract (skymatch's BKGLEVEL when not already subtracted), SCI units.
    """

    data: np.ndarray
    dq: np.ndarray
    wcs: object
    variances: dict = field(default_factory=dict)
    exptime: float = 1.0
    level: float = 0.0


@dataclass
class DrizzleResult:
    """The combined image on the grid (shapes (ny, nx) unless stated)."""

    data: np.ndarray
    wht: np.ndarray
    con: np.ndarray            # int32 (nplanes, ny, nx)
    variances: dict            # name -> float32 array, only those every input carried
    err: np.ndarray | None


def good_mask(data: np.ndarray, dq: np.ndarray, bad_bits: int = RESAMPLE_BAD_BITS) -> np.ndarray:
    """True where a pixel may be used: no ``bad_bits`` set and finite data."""
    return ((dq & np.uint32(bad_bits)) == 0) & np.isfinite(data)


def input_weight(item: DrizzleInput, weight_type: str | None, bad_bits: int = RESAMPLE_BAD_BITS) -> np.ndarray:
    """Per-pixel drizzle weight of an input, float32 (ny, nx); 0 on bad pixels.

    ``'ivm'``: 1 / VAR_RNOISE (1 where VAR_RNOISE is absent; 0 where it is not finite and
    positive); ``'exptime'``: the exposure time; ``None``: 1.

    Examples
    --------
    >>> d = DrizzleInput(np.ones((1, 2), np.float32), np.array([[0, 1]], np.uint32), None,
    ...                  {"var_rnoise": np.full((1, 2), 4.0, np.float32)})
    >>> input_weight(d, "ivm").tolist()
    [[0.25, 0.0]]
    """
    good = good_mask(item.data, item.dq, bad_bits)
    if weight_type == "ivm":
        var = item.variances.get("var_rnoise")
        if var is None:
            base = np.ones(item.data.shape, np.float32)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                base = np.where(np.isfinite(var) & (var > 0), 1.0 / var, 0.0)
    elif weight_type == "exptime":
        base = np.full(item.data.shape, item.exptime, np.float32)
    elif weight_type is None:
        base = np.ones(item.data.shape, np.float32)
    else:
        raise ValueError(f"weight_type must be 'ivm', 'exptime' or None, got {weight_type!r}")
    return np.where(good, base, 0.0).astype(np.float32)


def _clean(data: np.ndarray) -> np.ndarray:
    # drizzle multiplies by the weight: a NaN with weight 0 must still not poison a sum
    return np.where(np.isfinite(data), data, 0.0).astype(np.float32)


@dataclass(frozen=True)
class DrizzleSettings:
    """What drizzle does with every input (jwst resample parameter names)."""

    pixfrac: float = 1.0
    kernel: str = "square"
    fillval: float = np.nan
    weight_type: str | None = "ivm"
    bad_bits: int = RESAMPLE_BAD_BITS
    pixel_scale_ratio: float = 1.0
    pixmap_stepsize: float = 1.0
    pixmap_order: int = 1


def drizzle_images(inputs: Sequence[DrizzleInput], grid: OutputGrid, settings: DrizzleSettings = DrizzleSettings(), *,
                   variances: bool = True, context: bool = True, processes: int = 1) -> DrizzleResult:
    """Drizzle-combine ``inputs`` onto ``grid``.

    Parameters
    ----------
    inputs : sequence of DrizzleInput
        The images, in context-bit order.
    grid : OutputGrid
        Where to put them.
    settings : DrizzleSettings
        pixfrac, kernel, fill value, weighting, bad DQ bits.
    variances : bool
        Also combine the variance arrays and compute ERR (jwst ``enable_err``).
    context : bool
        Build the CON array (jwst ``enable_ctx``); otherwise ``con`` has 0 planes.
    processes : int
        Processes to spread the inputs over (:mod:`streamcal.parallel`).  Drizzle is linear:
        each process combines a contiguous share of the inputs and the partial mosaics are
        merged by weight (SCI = sum(SCI_k WHT_k) / sum(WHT_k), WHT and the variance sums add,
        CON bits are global), equal to one serial run up to float32 rounding.

    Returns
    -------
    DrizzleResult
        SCI (fill value where nothing landed), WHT, CON, variances, ERR.
    """
    inputs = list(inputs)
    args = [(inputs[r.start:r.stop], r.start, len(inputs), grid, settings, variances, context)
            for r in split(len(inputs), processes)]
    partials = map_parts(drizzle_part, args, processes)
    part = partials[0] if len(partials) == 1 else merge_parts(partials, settings.fillval)
    result = DrizzleResult(data=part.data, wht=part.wht, con=part.con, variances={}, err=None)
    if part.sums is not None:
        result.variances = part.sums.finish(len(inputs), settings.pixel_scale_ratio)
        result.err = _err_from(result.variances)
    return result


@dataclass
class DrizzlePart:
    """What drizzling a share of the inputs gives: SCI, WHT, CON (global bits) and the running
    variance sums (None without variances)."""

    data: np.ndarray
    wht: np.ndarray
    con: np.ndarray
    sums: _VarianceSums | None


def drizzle_part(inputs: Sequence[DrizzleInput], begin: int, total: int, grid: OutputGrid,
                 settings: DrizzleSettings, variances: bool, context: bool) -> DrizzlePart:
    """Drizzle ``inputs``, which are inputs ``begin, begin + 1, ...`` of ``total`` (their CON bits)."""
    shape = grid.shape
    driz = Drizzle(kernel=settings.kernel, fillval=settings.fillval, out_shape=shape,
                   begin_ctx_id=begin, max_ctx_id=max(total - 1, begin), disable_ctx=not context)
    acc = _VarianceSums(shape) if variances else None
    for item in inputs:
        pmap = pixmap(item.wcs, grid, item.data.shape, settings.pixmap_stepsize, settings.pixmap_order)
        weight = input_weight(item, settings.weight_type, settings.bad_bits)
        common = dict(exptime=max(item.exptime, 1e-30), pixmap=pmap, weight_map=weight,
                      pixfrac=settings.pixfrac, in_units="cps",
                      pixel_scale_ratio=settings.pixel_scale_ratio)
        before = driz.out_wht.copy() if acc is not None and driz.out_wht is not None else None
        driz.add_image(_clean(item.data - np.float32(item.level)), **common)
        if acc is not None:
            landed = driz.out_wht > before if before is not None else driz.out_wht > 0
            acc.add(item, settings, common, shape, landed)
    con = driz.out_ctx if context else np.zeros((0,) + shape, np.int32)
    return DrizzlePart(data=driz.out_img, wht=driz.out_wht, con=np.asarray(con, np.int32), sums=acc)


def merge_parts(parts: Sequence[DrizzlePart], fillval: float) -> DrizzlePart:
    """One mosaic from the partial mosaics of disjoint input shares (see :func:`drizzle_images`).

    Examples
    --------
    Two shares that saw one pixel with weights 1 and 3 and values 2 and 4 give (2 + 12) / 4:

    >>> one = lambda v, w: DrizzlePart(np.array([[v]], np.float32), np.array([[w]], np.float32),
    ...                                np.zeros((0, 1, 1), np.int32), None)
    >>> float(merge_parts([one(2.0, 1.0), one(4.0, 3.0)], np.nan).data[0, 0])
    3.5
    """
    wht = np.zeros_like(parts[0].wht, dtype=np.float64)
    total = np.zeros_like(wht)
    for part in parts:
        has = part.wht > 0
        wht += part.wht
        total[has] += part.data[has].astype(np.float64) * part.wht[has]
    with np.errstate(invalid="ignore", divide="ignore"):
        data = np.where(wht > 0, total / wht, fillval).astype(np.float32)
    con = parts[0].con.copy()
    for part in parts[1:]:
        con |= part.con
    sums = None
    if parts[0].sums is not None:
        sums = parts[0].sums
        for part in parts[1:]:
            sums.merge(part.sums)
    return DrizzlePart(data=data, wht=wht.astype(np.float32), con=con, sums=sums)


class _VarianceSums:
    """Running sums of w^2 VAR and w per variance kind (jwst's from_var error model)."""

    def __init__(self, shape):
        # float32 like stcal: 6 full-mosaic sums are the largest arrays of a resample
        self.wsum = {name: np.zeros(shape, np.float32) for name in VARIANCES}
        self.wt = {name: np.zeros(shape, np.float32) for name in VARIANCES}
        self.count = {name: 0 for name in VARIANCES}

    def add(self, item: DrizzleInput, settings: DrizzleSettings, common: dict, shape, landed: np.ndarray) -> None:
        """``landed``: output pixels this input gave weight to (where its drizzled arrays are
        defined)."""
        resampled = {}
        for name in VARIANCES:
            var = item.variances.get(name)
            if var is None:
                continue
            if not np.any(np.nan_to_num(var)):  # zero (e.g. VAR_FLAT of a perfect flat): drizzle gives 0 where it landed
                resampled[name] = np.where(landed, 0.0, np.nan)
            else:
                resampled[name] = _drizzle_sqrt(var, settings, common, shape)
        weight = self._weight(resampled.get("var_rnoise"), item, settings, shape)
        for name, var in resampled.items():
            use = np.isfinite(var) & (var >= 0) & (weight > 0)
            self.wsum[name][use] += var[use] * weight[use] ** 2
            self.wt[name][use] += weight[use]
            self.count[name] += 1

    def merge(self, other: _VarianceSums) -> None:
        """Add the sums of a disjoint share of the inputs."""
        for name in VARIANCES:
            self.wsum[name] += other.wsum[name]
            self.wt[name] += other.wt[name]
            self.count[name] += other.count[name]

    @staticmethod
    def _weight(rn_var, item, settings, shape) -> np.ndarray:
        if settings.weight_type == "exptime":
            return np.full(shape, item.exptime)
        if settings.weight_type == "ivm" and rn_var is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(np.isfinite(rn_var) & (rn_var > 0), 1.0 / rn_var, 0.0)
        return np.ones(shape)

    def finish(self, ninputs: int, pixel_scale_ratio: float) -> dict:
        out = {}
        for name in VARIANCES:
            if self.count[name] != ninputs or ninputs == 0:
                continue  # reported only when every input has it: otherwise it would be too small
            with np.errstate(divide="ignore", invalid="ignore"):
                var = self.wsum[name] / self.wt[name] ** 2 / pixel_scale_ratio ** 2
            var[self.wt[name] == 0] = np.nan
            out[name] = var.astype(np.float32)
        return out


def _drizzle_sqrt(var: np.ndarray, settings: DrizzleSettings, common: dict, shape) -> np.ndarray:
    """Drizzle sqrt(VAR) with the data's weights and square the result (NaN where empty)."""
    driz = Drizzle(kernel=settings.kernel, fillval=np.nan, out_shape=shape, disable_ctx=True)
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(np.where(np.isfinite(var) & (var >= 0), var, 0.0))
    driz.add_image(sigma.astype(np.float32), **common)
    return driz.out_img.astype(np.float64) ** 2


def _err_from(variances: dict) -> np.ndarray | None:
    if not variances:
        return None
    stack = np.stack(list(variances.values()))
    with np.errstate(invalid="ignore"):
        err = np.sqrt(np.nansum(stack, axis=0))
    err[np.all(np.isnan(stack), axis=0)] = np.nan
    return err.astype(np.float32)


def blot(image: np.ndarray, grid: OutputGrid, wcs_to, shape: tuple[int, int], *,
         fillval: float = np.nan, stepsize: float = 1.0, order: int = 1) -> np.ndarray:
    """Interpolate a grid image back onto an input's pixels (drizzle's ``blot``, bilinear, as
    jwst's outlier detection does): (ny, nx) float32 in the input frame."""
    pmap = pixmap(wcs_to, grid, shape, stepsize, order)
    pmap = np.where(np.isfinite(pmap), pmap, -1.0)  # tblot cannot take NaN; -1 is off the grid
    out = np.full(shape, fillval, np.float32)
    blot_image(np.asarray(image, np.float32), pmap, out_img=out, fillval=fillval, iscale=1.0,
               interp="linear")
    return out
