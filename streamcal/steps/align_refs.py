"""align_refs: bad pixels replaced, then every PSF-reference plane shifted onto the first
science integration (jwst 3.0 ``align_refs``; calwebb_coron3's ``_psfalign``).

1. Bad pixels -- DQ with any of ``bad_bits`` (jwst bit names, default DO_NOT_USE) or NaN SCI --
   of the science cube and of the PSF stack get the median of the good, finite pixels of the
   ``median_box_length`` box around them (0 when there is none).  Pixels are filled one after
   the other in row-major order, each box seeing the values already filled (jwst does so; a
   NaN pixel with good DQ thus feeds its later neighbours).  As in jwst's box cut, a box that
   would start before row or column 0 is empty (fill 0).  For MIRI, bad pixels flagged
   NON_SCIENCE are set to 0 without a median.
2. For each PSF plane P, (dx, dy, beta) minimise ``|(P - beta * S(dx, dy)) * M|^2`` where S is
   the science image (first integration) shifted by (dx, dy) pixels with the Fourier shift
   theorem and M the PSFMASK (0..1, the coronagraph's transmission: the occulted core and the
   mask edges weigh nothing).  ``scipy.optimize.leastsq`` from (0, 0, 1), xtol = ftol = 1e-15.
3. Each PSF plane and its ERR are shifted by (-dx, -dy) (Fourier shift; real part).  DQ of the
   aligned cube is 0, as in jwst 3.0's output model.

Shifts are in pixels, x along columns; a positive dx means the PSF star sits at larger x than
the science star.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np
from scipy import ndimage, optimize

from .. import dqflags
from ..models import ImageModel
from .base import StepParams, StepReport, skipped

__all__ = ["NAME", "STATUS_KEYWORD", "Params", "Alignment", "bad_bit_value", "median_replace",
           "fourier_shift_image", "fit_shift", "align_cube", "align_refs", "run"]

NAME = "align_refs"
STATUS_KEYWORD = "S_PSFALI"
REFTYPES = ("psfmask",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


def bad_bit_value(text: str) -> int:
    """The DQ bits named in a jwst bad-bits string ("DO_NOT_USE", "DO_NOT_USE+SATURATED", an
    integer, or "None" = 0: every pixel good).

    >>> bad_bit_value("DO_NOT_USE+NON_SCIENCE")
    513
    """
    text = str(text).strip()
    if text.lower() in ("none", "", "0"):
        return 0
    if text.lstrip("-").isdigit():
        return int(text)
    names = [n.strip().upper() for n in text.replace(",", "+").split("+") if n.strip()]
    unknown = [n for n in names if n not in dqflags.DQ]
    if unknown:
        raise ValueError(f"align_refs.bad_bits: unknown DQ flag name(s) {', '.join(unknown)} in {text!r}")
    return int(np.bitwise_or.reduce([dqflags.DQ[n] for n in names]))


@dataclass(frozen=True)
class Params(StepParams):
    """align_refs parameters (jwst names and defaults).

    Attributes
    ----------
    median_box_length : int
        Side of the box whose median replaces a bad pixel (3).
    bad_bits : str
        DQ bits of bad pixels, jwst names joined by '+' ("DO_NOT_USE").
    fit_float64 : bool
        Not a jwst parameter.  False (jwst): the shift is fitted on the float32 products as
        they are, so the Fourier shifts run in complex64 and leastsq's forward-difference step
        (~1.5e-8 px from a zero start) is below float32 resolution -- the fit barely leaves
        (0, 0) and mostly adjusts beta.  True: the fit runs in float64 and finds sub-pixel
        offsets (module docstring).
    """

    median_box_length: int = 3
    bad_bits: str = "DO_NOT_USE"
    fit_float64: bool = False

    def __post_init__(self):
        if self.median_box_length < 0:
            raise ValueError(f"align_refs.median_box_length must be >= 0, got {self.median_box_length}")
        bad_bit_value(self.bad_bits)


@dataclass(frozen=True)
class Alignment:
    """The aligned PSF stack and the fit that made it.

    Attributes
    ----------
    data, err : ndarray, float (npsf, ny, nx)
        Shifted PSF planes and their ERR (SCI units).
    shifts : ndarray, float64 (npsf, 3)
        Per PSF plane: dx, dy (pixels) and beta (PSF / science brightness).
    """

    data: np.ndarray
    err: np.ndarray
    shifts: np.ndarray


def median_replace(data: np.ndarray, dq: np.ndarray, box: int, bad_bits: int, *,
                   non_science_zero: bool = False) -> np.ndarray:
    """Bad pixels of a cube replaced by the median of their box (module docstring, step 1).

    Parameters
    ----------
    data : ndarray, float (nints, ny, nx)
    dq : ndarray, uint32 (nints, ny, nx)
    box : int
        Box side; the box spans ``box // 2`` pixels each side.
    bad_bits : int
        DQ bits of bad pixels (0: only NaN pixels are bad).
    non_science_zero : bool
        MIRI: bad NON_SCIENCE pixels are set to 0 instead.

    Returns
    -------
    ndarray
        A filled copy, of ``data``'s float type.
    """
    out = np.array(data, dtype=np.result_type(data.dtype, np.float32), copy=True)
    half = box // 2
    usable = (dq & np.uint32(bad_bits)) == 0
    for k in range(out.shape[0]):
        plane = out[k]
        bad = ~usable[k] | np.isnan(plane)
        if non_science_zero:
            outside = bad & ((dq[k] & np.uint32(dqflags.NON_SCIENCE)) != 0)
            plane[outside] = 0.0
            bad &= ~outside
        for y, x in zip(*np.nonzero(bad)):
            rows = slice(y - half, y + half + 1) if y >= half else slice(0, 0)  # jwst's empty cut
            cols = slice(x - half, x + half + 1) if x >= half else slice(0, 0)
            values = plane[rows, cols]
            good = np.isfinite(values) & usable[k][rows, cols]
            plane[y, x] = np.median(values[good]) if good.any() else 0.0
    return out


def fourier_shift_image(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """``image`` moved by (dx, dy) pixels through the Fourier shift theorem (periodic; real
    part kept), in ``image``'s precision (numpy >= 2 transforms float32 in complex64)."""
    return np.fft.ifftn(ndimage.fourier_shift(np.fft.fftn(image), (dy, dx))).real


def _residual(p: np.ndarray, science: np.ndarray, psf: np.ndarray, weight: np.ndarray) -> np.ndarray:
    return ((psf - p[2] * fourier_shift_image(science, p[0], p[1])) * weight).ravel()


def fit_shift(science: np.ndarray, psf: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(dx, dy, beta) of one PSF plane against the science image (module docstring, step 2)."""
    best, _ = optimize.leastsq(_residual, [0.0, 0.0, 1.0], args=(science, psf, weight), xtol=1e-15, ftol=1e-15)
    return np.asarray(best, dtype=np.float64)


def align_cube(science: np.ndarray, psf: np.ndarray, psf_err: np.ndarray, weight: np.ndarray) -> Alignment:
    """Fit and apply the shift of every PSF plane (module docstring, steps 2-3).

    Parameters
    ----------
    science : ndarray (ny, nx)
        The first science integration, bad pixels replaced.
    psf, psf_err : ndarray (npsf, ny, nx)
        PSF stack (bad pixels replaced) and its ERR.
    weight : ndarray (ny, nx)
        The PSFMASK, 0..1.
    """
    shifts = np.stack([fit_shift(science, plane, weight) for plane in psf])
    data = np.stack([fourier_shift_image(p, -s[0], -s[1]) for p, s in zip(psf, shifts)])
    err = np.stack([fourier_shift_image(e, -s[0], -s[1]) for e, s in zip(psf_err, shifts)])
    return Alignment(data, err, shifts)


def align_refs(target: ImageModel, psf: ImageModel, mask: np.ndarray,
               params: Params = Params()) -> tuple[ImageModel, ImageModel, Alignment]:
    """Align the PSF stack to one science exposure.

    Parameters
    ----------
    target : ImageModel
        Science ``calints``/``crfints`` cube.
    psf : ImageModel
        The ``_psfstack`` cube.
    mask : ndarray (ny, nx)
        PSFMASK SCI, cut to the subarray.

    Returns
    -------
    aligned : ImageModel
        The ``_psfalign`` content: shifted PSF planes (float32), DQ 0, the PSF stack's header.
    target : ImageModel
        The science cube with its bad pixels replaced (what klip works on, as in jwst).
    alignment : Alignment
    """
    if mask.shape != target.data.shape[-2:] or psf.data.shape[-2:] != target.data.shape[-2:]:
        raise ValueError(f"align_refs: PSFMASK {mask.shape}, science {target.data.shape[-2:]} and PSF "
                         f"{psf.data.shape[-2:]} frames differ")
    bits = bad_bit_value(params.bad_bits)
    miri = target.meta.instrument == "MIRI"
    sci = median_replace(np.asarray(target.data, np.float32), target.dq, params.median_box_length, bits,
                         non_science_zero=miri)
    ref = median_replace(np.asarray(psf.data, np.float32), psf.dq, params.median_box_length, bits,
                         non_science_zero=psf.meta.instrument == "MIRI")
    work = np.float64 if params.fit_float64 else np.float32  # float32: jwst's products as they are
    result = align_cube(sci[0].astype(work), ref.astype(work), np.asarray(psf.err, work), np.asarray(mask, work))
    aligned = replace(psf, data=result.data.astype(np.float32), err=result.err.astype(np.float32),
                      dq=np.zeros(ref.shape, np.uint32), header=psf.header.copy())
    return aligned, replace(target, data=sci.astype(np.float32)), result


def run(target: ImageModel, psf: ImageModel, refs: Mapping, params: Params = Params()):
    """Step adapter: ``refs['psfmask']`` the PSFMASK array (None: N/A, the step is skipped and
    the PSF stack passed on, as jwst does).

    Returns
    -------
    aligned, target, alignment or None, StepReport
    """
    if params.skip:
        return psf, target, None, skipped("skipped by parameter")
    mask = refs.get("psfmask")
    if mask is None:
        return psf, target, None, skipped("no PSFMASK reference file")
    aligned, target, result = align_refs(target, psf, mask, params)
    dx, dy = result.shifts[:, 0], result.shifts[:, 1]
    note = (f"{len(dx)} PSF planes aligned; shifts dx {dx.min():+.3f}..{dx.max():+.3f}, "
            f"dy {dy.min():+.3f}..{dy.max():+.3f} px")
    return aligned, target, result, StepReport(note=note)
