"""Detector electronics of the simulator: electrons -> raw DN, one group plane at a time.

The inverse of everything stage 1 undoes, in the opposite order:

- non-linearity: the raw signal F solves ``sum_k c_k F^k = L`` for the linear signal L (DN),
  with the same COEFFS the LINEARITY reference file gives the pipeline (Newton, per pixel);
- saturation: the raw signal stops at a hard ceiling above the SATURATION threshold;
- bias: the superbias (NIR) -- for MIRI, whose pipeline has no superbias step and linearizes raw
  DN, the pedestal is part of L instead;
- reference-pixel drifts (NIR): per-amplifier offsets that change from group to group,
  odd/even column offsets and a 1/f-like row drift common to all columns of a detector row --
  so the side reference columns see it too;
- 16-bit quantisation.
"""

from __future__ import annotations

import numba
import numpy as np

from ..detectors import Detector, amplifier_index, detector_coordinates

#: Hard ceiling of the raw signal above the saturation threshold, DN.
SATURATION_HEADROOM_DN = 1500.0
ADC_MAX = 65535.0


@numba.njit(cache=True)
def _invert_polynomial(lin, coeffs, out, iterations):  # pragma: no cover - compiled
    ncoef = coeffs.shape[0]
    ny, nx = lin.shape
    for j in range(ny):
        for i in range(nx):
            target = lin[j, i]
            if np.isnan(coeffs[ncoef - 1, j, i]) or np.isnan(coeffs[0, j, i]):
                out[j, i] = target  # no correction for this pixel: raw = linear
                continue
            f = target
            for _ in range(iterations):
                p = 0.0
                d = 0.0
                for k in range(ncoef - 1, -1, -1):
                    d = d * f + p
                    p = p * f + coeffs[k, j, i]
                if d <= 0.0:
                    break
                step = (p - target) / d
                f -= step
                if abs(step) < 1e-6:  # DN: quadratic convergence, usually 3 steps
                    break
            out[j, i] = f


def raw_from_linear(lin: np.ndarray, coeffs: np.ndarray, iterations: int = 8) -> np.ndarray:
    """Raw signal F, DN, whose linearity correction ``sum_k coeffs[k] F^k`` equals ``lin``.

    Parameters
    ----------
    lin : ndarray, float64, (ny, nx)
        Linear signal, DN.
    coeffs : ndarray, float32, (ncoeffs, ny, nx)
        LINEARITY COEFFS (``c_0 + c_1 F + ...``); a pixel with NaN coefficients is left linear.
    iterations : int
        Most Newton steps from ``F = lin`` (it stops once a step is below 1e-6 DN; a few-%
        non-linearity needs 3-4).

    Returns
    -------
    ndarray, float64, (ny, nx)

    Examples
    --------
    Fc = F + 1e-3 F^2: the raw value giving Fc = 110 is F = 100 (100 + 1e-3 * 100^2 = 110).

    >>> c = np.array([0.0, 1.0, 1e-3], np.float32).reshape(3, 1, 1)
    >>> round(float(raw_from_linear(np.array([[110.0]]), c)[0, 0]), 4)
    100.0
    """
    out = np.empty(lin.shape, dtype=np.float64)
    _invert_polynomial(np.ascontiguousarray(lin, dtype=np.float64),
                       np.ascontiguousarray(coeffs), out, iterations)
    return out


def raw_ceiling(saturation: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """Highest raw signal (bias excluded when ``bias`` is given), DN: the saturation threshold
    plus :data:`SATURATION_HEADROOM_DN`, so that a saturated pixel always trips the
    saturation step; no ceiling but the ADC where the threshold is NaN (NO_SAT_CHECK)."""
    ceiling = np.where(np.isnan(saturation), ADC_MAX, saturation + SATURATION_HEADROOM_DN)
    if bias is not None:
        ceiling = ceiling - bias
    return ceiling


def to_uint16(plane: np.ndarray) -> np.ndarray:
    """Round and clip to the 16-bit ADC range.

    >>> to_uint16(np.array([-3.2, 1.6, 70000.0])).tolist()
    [0, 2, 65535]
    """
    return np.rint(np.clip(plane, 0.0, ADC_MAX)).astype(np.uint16)


def one_over_f(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """A length-``n`` series of 1/f noise (power ~ 1/f) scaled to standard deviation ``sigma``."""
    if sigma == 0 or n < 2:
        return np.zeros(n)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    series = np.fft.irfft(spectrum / np.sqrt(f), n)
    series -= series.mean()
    return sigma * series / series.std()


class BiasDrift:
    """Reference-pixel-correctable bias structure of one NIR exposure, by group.

    Parameters
    ----------
    detector : Detector
    window : (substrt1, substrt2, subsize1, subsize2)
    noutputs : int
    rng : numpy.random.Generator
    amp_offset, amp_jitter : float
        Per-amplifier offset, DN (constant over the exposure), and its group-to-group change.
    parity_offset, parity_jitter : float
        Extra offset of odd vs even detector columns per amplifier, DN, and its change.
    row_noise : float
        Standard deviation of the 1/f row drift, DN, per group; zero-mean over the window's rows
        (a common part would be an amplifier offset).  One-output subarrays have no side
        reference columns that jwst uses, so this part stays in their slopes as correlated noise.
    """

    def __init__(self, detector: Detector, window: tuple[int, int, int, int], noutputs: int,
                 rng: np.random.Generator, *, amp_offset: float = 100.0, amp_jitter: float = 4.0,
                 parity_offset: float = 15.0, parity_jitter: float = 1.0, row_noise: float = 2.0):
        self.rng = rng
        det_row, det_col = detector_coordinates(detector, *window)
        self.det_row = det_row
        self.slot = amplifier_index(det_col, noutputs, detector.shape[1]) * 2 + det_col % 2
        self.n_rows = detector.shape[0]
        self.base = (np.repeat(rng.normal(0, amp_offset, 4), 2)
                     + np.tile([0.5, -0.5], 4) * np.repeat(rng.normal(0, parity_offset, 4), 2))
        self.amp_jitter, self.parity_jitter, self.row_noise = amp_jitter, parity_jitter, row_noise

    def plane(self) -> np.ndarray:
        """Drift of the next group read, DN, float64 broadcastable to the window."""
        table = self.base + np.repeat(self.rng.normal(0, self.amp_jitter, 4), 2) \
            + self.rng.normal(0, self.parity_jitter, 8)
        rows = one_over_f(self.n_rows, self.row_noise, self.rng)[self.det_row]
        # the window-average of the row drift is a frame offset: it belongs to the amplifier
        # term (which reference pixels remove), so the row term is kept zero-mean over the window
        rows = rows - rows.mean()
        return table[self.slot] + rows
