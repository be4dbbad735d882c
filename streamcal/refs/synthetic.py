"""Synthetic detector calibration arrays: deterministic, realistic in magnitude, consistent.

Every array is a pure function of (detector, :data:`SEED_TAG`): the random generator is seeded from
them, so two processes (or two runs a year apart) produce bit-identical reference files.  The
arrays are consistent with each other the way real ones are: the NIR saturation threshold is
the superbias plus a per-pixel well depth (thresholds are in raw DN, bias included, jwst
saturation step), hot and warm pixels in the mask are the ones with high dark current, the
linearity correction is the one the simulator inverts.  The simulator and the reference files
therefore describe one and the same detector, so the pipeline can recover the simulated truth.

Values (per instrument, :data:`NOMINAL`):

========== ======= ========= ======= ========= =========== =========
instrument gain    CDS noise bias    well      dark        notes
           (e/DN)  (DN)      (DN)    (raw DN)  (DN/s)
========== ======= ========= ======= ========= =========== =========
NIRCam SW  2.05    11        12000   45000     0.003       JDox gain 2.05
NIRCam LW  1.82    9         12000   45000     0.010       JDox gain 1.82
NIRISS     1.61    12        12000   45000     0.005
NIRSpec    1.00    14        12000   45000     0.004
FGS        2.00    12        12000   45000     0.005
MIRI       4.00    25        10000   48000     0.005       no superbias step
========== ======= ========= ======= ========= =========== =========

Linearity correction ``Fc = F + a F^2 + b F^3`` (COEFFS = [0, 1, a, b]) with a = 6e-7,
b = 6e-12 (+-5 %, +-10 % per pixel): 3.4 % at F = 40000 DN.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from .. import dqflags
from ..detectors import Detector

#: Version of the synthetic set; in every file name, so a new version never reuses old files.
#: Raise it whenever a builder changes what it writes (synth2: per-filter flats, stage-2/3 types;
#: synth3: jwst 3.0's model classes in DATAMODL -- instrument PHOTOM classes, DarkMIRIModel,
#: DarkNirspecModel -- and RSCD columns named as its schema).
VERSION = "synth3"
#: What the random generators are seeded with: the synth2 arrays, unchanged since (synth3
#: changed file layouts only), so every measured number of the set still holds.
SEED_TAG = "synth2"

#: Fractions of bad pixels in the mask (0.1 % in all, plus warm pixels that stay usable).
HOT_FRACTION, DEAD_FRACTION, OTHER_BAD_FRACTION, WARM_FRACTION = 4e-4, 3e-4, 3e-4, 1e-3
#: Fraction of pixels without a saturation check / linearity correction.
NO_SAT_FRACTION, NO_LIN_FRACTION = 5e-5, 5e-5


@dataclass(frozen=True)
class Nominal:
    """Nominal detector properties (see the module table)."""

    gain: float
    readnoise_cds: float
    bias: float
    well_raw: float
    dark_rate: float
    lin_a: float = 6e-7
    lin_b: float = 6e-12


NOMINAL: dict[str, Nominal] = {
    "NIRCAM_SHORT": Nominal(2.05, 11.0, 12000.0, 45000.0, 0.003),
    "NIRCAM_LONG": Nominal(1.82, 9.0, 12000.0, 45000.0, 0.010),
    "NIRISS": Nominal(1.61, 12.0, 12000.0, 45000.0, 0.005),
    "NIRSPEC": Nominal(1.00, 14.0, 12000.0, 45000.0, 0.004),
    "FGS": Nominal(2.00, 12.0, 12000.0, 45000.0, 0.005),
    "MIRI": Nominal(4.00, 25.0, 10000.0, 48000.0, 0.005),
}


def nominal(detector: Detector) -> Nominal:
    """Nominal properties of a detector."""
    if detector.instrument == "NIRCAM":
        return NOMINAL[f"NIRCAM_{detector.channel}"]
    return NOMINAL[detector.instrument]


def rng_for(detector: Detector, quantity: str) -> np.random.Generator:
    """Generator seeded from (:data:`SEED_TAG`, detector, quantity): deterministic across
    processes (crc32, not Python's salted ``hash``)."""
    return np.random.default_rng(zlib.crc32(f"{SEED_TAG}/{detector.name}/{quantity}".encode()))


def _sparse(detector: Detector, quantity: str, fraction: float) -> np.ndarray:
    """Boolean full-frame map with ``fraction`` of the pixels set, at random places."""
    ny, nx = detector.shape
    rng = rng_for(detector, quantity)
    n = max(1, int(round(fraction * ny * nx)))
    out = np.zeros(ny * nx, dtype=bool)
    out[rng.choice(ny * nx, size=n, replace=False)] = True
    return out.reshape(ny, nx)


@dataclass(frozen=True)
class BadPixels:
    """Full-frame boolean maps of the defect classes (mutually exclusive)."""

    hot: np.ndarray
    warm: np.ndarray
    dead: np.ndarray
    other: np.ndarray


def bad_pixels(detector: Detector) -> BadPixels:
    """Defects of a detector; reference pixels are never defects."""
    ref = detector.reference_pixel_mask()
    taken = ref.copy()
    maps = {}
    for name, fraction in (("hot", HOT_FRACTION), ("dead", DEAD_FRACTION),
                           ("other", OTHER_BAD_FRACTION), ("warm", WARM_FRACTION)):
        m = _sparse(detector, f"bad/{name}", fraction) & ~taken
        taken |= m
        maps[name] = m
    return BadPixels(**maps)


def mask_dq(detector: Detector) -> np.ndarray:
    """MASK DQ, uint32 standard bits, full frame.

    REFERENCE_PIXEL on the reference pixels; HOT|DO_NOT_USE, DEAD|DO_NOT_USE,
    OTHER_BAD_PIXEL|DO_NOT_USE and WARM (usable) on the defects.
    """
    bad = bad_pixels(detector)
    dq = np.zeros(detector.shape, dtype=np.uint32)
    dq[detector.reference_pixel_mask()] |= dqflags.REFERENCE_PIXEL
    dq[bad.hot] |= dqflags.HOT | dqflags.DO_NOT_USE
    dq[bad.dead] |= dqflags.DEAD | dqflags.DO_NOT_USE
    dq[bad.other] |= dqflags.DQ["OTHER_BAD_PIXEL"] | dqflags.DO_NOT_USE
    dq[bad.warm] |= dqflags.DQ["WARM"]
    return dq


def _smooth_field(detector: Detector, quantity: str, amplitude: float) -> np.ndarray:
    """A large-scale pattern: low-order separable cosines, float32, zero mean, +-amplitude."""
    ny, nx = detector.shape
    rng = rng_for(detector, quantity)
    y = np.linspace(0, np.pi, ny, dtype=np.float32)[:, None]
    x = np.linspace(0, np.pi, nx, dtype=np.float32)[None, :]
    a = rng.normal(0, 1, 4).astype(np.float32)
    field = a[0] * np.cos(y) + a[1] * np.cos(x) + a[2] * np.cos(2 * y) * np.cos(x) + a[3] * np.cos(2 * x)
    return (amplitude / 2.0) * field


def _pixel_scatter(detector: Detector, quantity: str, sigma: float) -> np.ndarray:
    return rng_for(detector, quantity).normal(0.0, sigma, detector.shape).astype(np.float32)


def gain(detector: Detector) -> np.ndarray:
    """GAIN SCI, e/DN, float32 full frame: nominal +-2 % per pixel, 1 % large-scale."""
    g = nominal(detector).gain
    out = _pixel_scatter(detector, "gain", 0.02 * g)
    out += _smooth_field(detector, "gain/field", 0.01 * g)
    out += np.float32(g)
    return out


def readnoise(detector: Detector) -> np.ndarray:
    """READNOISE SCI, CDS read noise, DN, float32 full frame: nominal +-7 %."""
    rn = nominal(detector).readnoise_cds
    out = _pixel_scatter(detector, "readnoise", 0.07 * rn)
    out += np.float32(rn)
    np.maximum(out, np.float32(0.3 * rn), out=out)
    return out


def bias(detector: Detector) -> np.ndarray:
    """Bias, DN, float32 full frame: nominal + column structure + 1 % large-scale + pixels.

    For NIR this is the SUPERBIAS SCI; for MIRI it is the raw-DN pedestal the simulator adds
    (MIRI has no superbias step; its linearity is applied to raw DN).
    """
    ny, nx = detector.shape
    b = nominal(detector).bias
    rng = rng_for(detector, "bias/columns")
    out = _pixel_scatter(detector, "bias/pixels", 40.0)
    out += rng.normal(0.0, 150.0, nx).astype(np.float32)[None, :]
    out += _smooth_field(detector, "bias/field", 0.05 * b)
    out += np.float32(b)
    return out


def saturation(detector: Detector) -> tuple[np.ndarray, np.ndarray]:
    """SATURATION SCI (raw DN threshold, float32) and the NO_SAT_CHECK map.

    NIR thresholds include the bias (superbias + well depth, 55000-62000 DN typically);
    MIRI thresholds are on raw DN.  Pixels without a check have a NaN threshold.
    """
    nom = nominal(detector)
    well = _pixel_scatter(detector, "saturation", 0.03 * nom.well_raw) + np.float32(nom.well_raw)
    thresh = well if detector.is_miri else well + bias(detector)
    np.clip(thresh, 20000.0, 64000.0, out=thresh)
    no_check = _sparse(detector, "saturation/nocheck", NO_SAT_FRACTION)
    thresh[no_check] = np.nan
    return thresh, no_check


def linearity(detector: Detector) -> tuple[np.ndarray, np.ndarray]:
    """LINEARITY COEFFS (4, ny, nx) float32 = [0, 1, a, b] and the NO_LIN_CORR map (NaN
    coefficients there).  Correction ``Fc = F + a F^2 + b F^3``, F in DN (bias-subtracted for
    NIR, raw for MIRI)."""
    nom = nominal(detector)
    coeffs = np.zeros((4,) + detector.shape, dtype=np.float32)
    coeffs[1] = 1.0
    coeffs[2] = nom.lin_a * (1.0 + _pixel_scatter(detector, "linearity/a", 0.05))
    coeffs[3] = nom.lin_b * (1.0 + _pixel_scatter(detector, "linearity/b", 0.10))
    no_lin = _sparse(detector, "linearity/nocorr", NO_LIN_FRACTION)
    coeffs[:, no_lin] = np.nan
    return coeffs, no_lin


def dark_rate(detector: Detector) -> np.ndarray:
    """Dark current, DN/s, float32 full frame: log-normal around nominal, warm pixels
    0.1-0.5 DN/s, hot pixels 0.5-5 DN/s, zero on reference pixels."""
    nom = nominal(detector)
    rng = rng_for(detector, "dark/rate")
    rate = (nom.dark_rate * rng.lognormal(0.0, 0.3, detector.shape)).astype(np.float32)
    bad = bad_pixels(detector)
    rate[bad.warm] = rng.uniform(0.1, 0.5, int(bad.warm.sum()))
    rate[bad.hot] = rng.uniform(0.5, 5.0, int(bad.hot.sum()))
    rate[detector.reference_pixel_mask()] = 0.0
    return rate


def dark_frames(rate: np.ndarray, tframe: float, nframes: int) -> np.ndarray:
    """NIR dark cube, DN, float32 (nframes, ny, nx): frame k holds ``rate * k * tframe``
    (NFRAMES=1, GROUPGAP=0, group 0 subtracted, as jwst NIR darks).

    >>> dark_frames(np.array([[2.0]]), 0.5, 3)[:, 0, 0].tolist()
    [0.0, 1.0, 2.0]
    """
    steps = (np.arange(nframes, dtype=np.float32) * np.float32(tframe))[:, None, None]
    return steps * rate[None].astype(np.float32)


def ipc_kernel(detector: Detector) -> np.ndarray:
    """IPC deconvolution kernel, float32 (3, 3), sum 1: -alpha on the sides (0.53 % NIR,
    1.2 % MIRI), -0.05 % on the corners, the rest in the centre (> 1)."""
    alpha = 0.012 if detector.is_miri else 0.0053
    beta = 0.0005
    kernel = np.array([[-beta, -alpha, -beta], [-alpha, 0.0, -alpha], [-beta, -alpha, -beta]],
                      dtype=np.float64)
    kernel[1, 1] = 1.0 - kernel.sum()
    return kernel.astype(np.float32)


def flat(detector: Detector) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FLAT SCI (1 +- 2 %), ERR (0.5 %) and the NO_FLAT_FIELD map (NaN flat there)."""
    sci = _pixel_scatter(detector, "flat", 0.02) + _smooth_field(detector, "flat/field", 0.02)
    sci += np.float32(1.0)
    err = np.full(detector.shape, 0.005, dtype=np.float32)
    bad = _sparse(detector, "flat/bad", 1e-4)
    sci[bad] = np.nan
    return sci, err, bad


def reset_anomaly(detector: Detector, window: tuple[slice, slice], nints: int, ngroups: int) -> np.ndarray:
    """MIRI RESET SCI, raw DN, float32 (nints, ngroups, ny, nx): a decaying offset
    ``A exp(-g / 2.5)`` with A ~ 20 +- 5 DN in the first integration and half of it later."""
    amp = (20.0 + _pixel_scatter(detector, "reset", 5.0))[window]
    decay = np.exp(-np.arange(ngroups, dtype=np.float32) / np.float32(2.5))
    per_int = np.array([1.0] + [0.5] * (nints - 1), dtype=np.float32)
    return per_int[:, None, None, None] * decay[None, :, None, None] * amp[None, None]


#: MIRI RSCD: groups to flag DO_NOT_USE at the start of integrations 2 and later, per
#: (SUBARRAY, READPATT) (synthetic values of the order of the CRDS ones).
RSCD_GROUP_SKIP = {"FULL": 3, "BRIGHTSKY": 4, "SUB256": 6, "SUB128": 8, "SUB64": 8,
                   "SLITLESSPRISM": 8, "MASK1065": 4, "MASK1140": 4, "MASK1550": 4, "MASKLYOT": 4}
