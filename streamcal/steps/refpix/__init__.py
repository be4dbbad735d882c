"""refpix: remove bias drifts measured in the reference pixels (jwst RefPixStep, 3.0).

Near-IR (DMS data transformed to the detector readout frame with FASTAXIS/SLOWAXIS):

* full frame, and subarrays read through 4 outputs: per amplifier and group, the 3-sigma-clipped
  means of the top and bottom reference rows (odd/even columns apart with ``odd_even_columns``)
  are averaged and subtracted from the amplifier; then, with ``use_side_ref_pixels``, a running
  median (``side_smoothing_length`` rows) of the left/right reference columns, averaged, is
  subtracted row by row times ``side_gain``.  A subarray uses whichever reference regions it
  contains.
* subarrays read through 1 output: one clipped mean (per column parity) of all pixels flagged
  REFERENCE_PIXEL (not DO_NOT_USE) is subtracted; NIRSpec SUB32/SUB512/SUB512S use their first
  and last 4 columns as reference pixels.  Without any reference pixel: SKIPPED.
* ZEROFRAME is corrected the same way (0 values stay 0).

MIRI: full frame only (subarrays SKIPPED, as jwst), see :mod:`.miri`.

Not implemented (raise :class:`~streamcal.errors.NotImplementedStepError`): NIRSpec IRS2
readouts (READPATT NRSIRS2*), and ``refpix_algorithm="sirs"`` when a SIRSKERNEL reference applies
(without one jwst falls back to the running median, and so does streamcal).

Choices: the orientation follows FASTAXIS/SLOWAXIS for every detector (jwst 3.0 hard-codes a
flip per detector; for GUIDER1/2 its table has no transpose although FASTAXIS = +-2, so FGS
amplifier stripes differ).  A 4-output subarray without any usable reference pixel is reported
SKIPPED (jwst reports COMPLETE but changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ... import dqflags
from ...errors import NotImplementedStepError
from ...models import RampModel
from ...refs.model import RefData
from .._common import detector_full_shape, detector_view, detector_window
from ..base import StepParams, StepReport, skipped
from . import miri, nir

NAME = "refpix"
STATUS_KEYWORD = "S_REFPIX"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES = ("refpix", "sirskernel")

NIR_SHAPE = (2048, 2048)
#: NIRSpec subarrays that reach no detector edge: their first/last 4 columns act as references.
NRS_EDGELESS = ("SUB32", "SUB512", "SUB512S")


@dataclass(frozen=True)
class Params(StepParams):
    """jwst RefPixStep parameters.

    Attributes
    ----------
    odd_even_columns : bool
        NIR: separate reference means for even and odd detector columns.
    use_side_ref_pixels : bool
        NIR: apply the side (left/right column) row-drift correction.
    side_smoothing_length : int
        NIR: running-median height for the side reference pixels, rows (made odd).
    side_gain : float
        NIR: factor applied to the side correction, dimensionless.
    odd_even_rows : bool
        MIRI: separate reference means for even and odd rows.
    refpix_algorithm : str
        "median" (running median) or "sirs" (not implemented when a SIRSKERNEL applies).
    sigreject, gaussmooth, halfwidth : float, float, int
        SIRS parameters (sigma, pixels, pixels); unused.
    ovr_corr_mitigation_ftr, preserve_irs2_refpix, irs2_mean_subtraction : float, bool, bool
        IRS2 parameters; unused (IRS2 not implemented).
    """

    odd_even_columns: bool = True
    use_side_ref_pixels: bool = True
    side_smoothing_length: int = 11
    side_gain: float = 1.0
    odd_even_rows: bool = True
    refpix_algorithm: str = "median"
    sigreject: float = 4.0
    gaussmooth: float = 1.0
    halfwidth: int = 30
    ovr_corr_mitigation_ftr: float = 3.0
    preserve_irs2_refpix: bool = False
    irs2_mean_subtraction: bool = False

    def __post_init__(self):
        if self.refpix_algorithm not in ("median", "sirs"):
            raise ValueError(f"refpix.refpix_algorithm must be 'median' or 'sirs', got {self.refpix_algorithm!r}")
        if self.side_smoothing_length < 1:
            raise ValueError("refpix.side_smoothing_length must be >= 1")


def _window(model: RampModel) -> tuple[slice, slice] | None:
    """DMS window of the data in the full NIR frame, or None if it does not fit."""
    ny, nx = model.pixeldq.shape
    if (ny, nx) == NIR_SHAPE:
        return slice(0, ny), slice(0, nx)
    y0, x0 = model.meta.substrt2 - 1, model.meta.substrt1 - 1
    if y0 < 0 or x0 < 0 or y0 + ny > NIR_SHAPE[0] or x0 + nx > NIR_SHAPE[1]:
        return None
    return slice(y0, y0 + ny), slice(x0, x0 + nx)


def _reference_mask(model: RampModel) -> np.ndarray:
    """REFERENCE_PIXEL and not DO_NOT_USE, DMS; NIRSpec edgeless subarrays add their edge columns."""
    dq = model.pixeldq.copy()
    if model.meta.instrument == "NIRSPEC" and model.meta.subarray in NRS_EDGELESS:
        dq[:, :4] |= np.uint32(dqflags.REFERENCE_PIXEL)
        dq[:, -4:] |= np.uint32(dqflags.REFERENCE_PIXEL)
    return ((dq & dqflags.REFERENCE_PIXEL) != 0) & ((dq & dqflags.DO_NOT_USE) == 0)


def _offsets(det, valid, refmask, r0, c0, full_det, params: Params, four_amp: bool):
    """Detector-frame row and column corrections (ngroups, h) and (ngroups, w) of one
    integration, DN, and the number of column parities without reference pixels."""
    rows = np.zeros(det.shape[:2])
    if not four_amp:
        cols, missing = nir.single_output_offsets(det, refmask, c0, params.odd_even_columns)
        return rows, cols, missing
    cols = nir.top_bottom_offsets(det, valid, r0, c0, full_det, params.odd_even_columns)
    if params.use_side_ref_pixels:
        rows = params.side_gain * nir.side_offsets(det, valid, cols, r0, c0, full_det,
                                                   params.side_smoothing_length)
    return rows, cols, 0


def _correct_nir(data: np.ndarray, model: RampModel, window, params: Params, four_amp: bool) -> int:
    """Correct a (nints, ngroups, ny, nx) DMS array in place; returns the number of column
    parities lacking reference pixels (1-output subarrays)."""
    fa, sa = model.meta.fastaxis, model.meta.slowaxis
    r0, c0 = detector_window(fa, sa, *window, NIR_SHAPE)
    full_det = detector_full_shape(fa, NIR_SHAPE)
    valid = detector_view((model.pixeldq & dqflags.DO_NOT_USE) == 0, fa, sa)
    refmask = detector_view(_reference_mask(model), fa, sa)
    missing = 0
    for i in range(data.shape[0]):
        det = detector_view(data[i], fa, sa)
        rows, cols, missing = _offsets(det, valid, refmask, r0, c0, full_det, params, four_amp)
        yvec, xvec = nir.to_dms_vectors(rows, cols, fa, sa)
        nir.subtract_separable_inplace(data[i], yvec, xvec)
    return missing


def _has_four_amp_references(model: RampModel, window) -> bool:
    """Does the window hold any usable top/bottom or side reference pixel?"""
    meta = model.meta
    r0, c0 = detector_window(meta.fastaxis, meta.slowaxis, *window, NIR_SHAPE)
    valid = detector_view((model.pixeldq & dqflags.DO_NOT_USE) == 0, meta.fastaxis, meta.slowaxis)
    rows, cols = nir.reference_lines(*valid.shape, r0, c0, detector_full_shape(meta.fastaxis, NIR_SHAPE))
    return bool(valid[rows].any() or valid[:, cols].any())


def _run_nir(model: RampModel, refs: Mapping[str, RefData], params: Params) -> tuple[RampModel, StepReport]:
    meta = model.meta
    window = _window(model)
    if window is None:
        return model, skipped("subarray does not fit in the 2048x2048 frame")
    full = model.pixeldq.shape == NIR_SHAPE
    notes = []
    if params.refpix_algorithm == "sirs":
        if full and "sirskernel" in refs:
            raise NotImplementedStepError("refpix: refpix_algorithm='sirs' (SIRS convolution kernels) "
                                          "is not implemented in streamcal")
        notes.append("sirs: no SIRSKERNEL reference (or subarray), running median used")
    four_amp = full or meta.noutputs == 4
    if four_amp and not _has_four_amp_references(model, window):
        return model, skipped("no usable reference pixels in this subarray")
    if not four_amp and not _reference_mask(model).any():
        return model, skipped("no REFERENCE_PIXEL-flagged pixels in this 1-output subarray")
    missing = _correct_nir(model.data, model, window, params, four_amp)
    if missing:
        notes.append(f"{missing} column parity without reference pixels left uncorrected")
    if model.zeroframe is not None and meta.zeroframe:
        zf = model.zeroframe[:, np.newaxis]
        bad = zf == 0
        _correct_nir(zf, model, window, params, four_amp)
        zf[bad] = 0
    mode = "4-amplifier" if four_amp else "1-output subarray"
    return model, StepReport(note="; ".join([f"NIR {mode} correction"] + notes))


def _run_miri(model: RampModel, params: Params) -> tuple[RampModel, StepReport]:
    if model.pixeldq.shape != miri.SHAPE:
        return model, skipped("MIRI subarray: reference-pixel correction not applied (as jwst)")
    valid = (model.pixeldq & dqflags.DO_NOT_USE) == 0
    for i in range(model.data.shape[0]):
        offsets = miri.miri_offsets(model.data[i], valid, params.odd_even_rows)
        if np.isnan(offsets).any():
            return model, skipped("a MIRI reference column has no usable pixel")
        miri.subtract_miri_offsets_inplace(model.data[i], offsets)
    return model, StepReport(note="MIRI left/right reference columns")


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Correct ``model.data`` (and ZEROFRAME) in place for reference-pixel drifts."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if model.meta.readpatt.startswith("NRSIRS2"):
        raise NotImplementedStepError("refpix: NIRSpec IRS2 readouts (NRSIRS2*) are not implemented in streamcal")
    if model.meta.is_miri:
        return _run_miri(model, params)
    return _run_nir(model, refs, params)
