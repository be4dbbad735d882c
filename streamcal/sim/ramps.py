"""Array-level up-the-ramp simulator: charge in electrons, with the truth it was made from.

A JWST MULTIACCUM integration starts from a reset; the detector is read every TFRAME.  Each
group is the mean of NFRAMES consecutive frame reads, then GROUPGAP frames are read and
dropped (charge keeps accumulating during them).  This module simulates exactly that, frame by
frame, in electrons: Poisson arrivals per frame (cumulative), independent read noise on each
frame read, cosmic rays landing at random frames, and an optional full well.

Only ``O(ny*nx)`` working state is kept besides the output, so a 2048x2048x10-group ramp is
simulated without full-size temporaries.  Detector effects in DN (bias, dark, nonlinearity,
gain, uint16 quantisation) are added on top of this by the raw-exposure simulator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CosmicRay:
    """One cosmic-ray hit.

    Attributes
    ----------
    integration : int
        0-based integration index.
    frame : int
        0-based frame index inside the integration, counting dropped (GROUPGAP) frames too.
        The charge is added just before this frame is read.
    y, x : int
        Pixel (row, column).
    electrons : float
        Charge deposited, e- (before any full-well clipping).
    """

    integration: int
    frame: int
    y: int
    x: int
    electrons: float


@dataclass
class RampTruth:
    """What a simulated ramp was made from.

    Attributes
    ----------
    rate_e : ndarray, float64, (ny, nx)
        True photon + dark rate, e-/s.
    cosmic_rays : list of CosmicRay
        Every hit, in time order within each integration.
    jump_groups : ndarray, bool, (nints, ngroups, ny, nx)
        True at the group jwst flags for a hit: the group whose difference with the previous
        group carries most of the hit's charge (for NFRAMES=1, the first group read after the
        hit).  A hit landing in group 0 marks group 0, which no detector can see as a jump.
    """

    rate_e: np.ndarray
    cosmic_rays: list[CosmicRay] = field(default_factory=list)
    jump_groups: np.ndarray | None = None


def group_of_frame(frame: int, nframes: int, groupgap: int) -> int:
    """The group a hit before ``frame`` shows up in as a jump (see :class:`RampTruth`).

    Examples
    --------
    NFRAMES=4, GROUPGAP=1: frames 0-3 are group 0, frame 4 is dropped, frames 5-8 group 1.

    >>> [group_of_frame(f, 4, 1) for f in (0, 2, 3, 4, 5)]
    [0, 0, 1, 1, 1]
    """
    period = nframes + groupgap
    g, pos = divmod(frame, period)
    if pos >= nframes:  # in the dropped frames: all of it arrives in the next group
        return g + 1
    # group g gets (nframes-pos)/nframes of the charge; the next difference gets the rest
    return g if (nframes - pos) >= pos else g + 1


def _draw_cosmic_rays(rng, integration, nframes_total, shape, cr_per_pixel_per_s, tframe,
                      cr_electrons) -> list[CosmicRay]:
    """Poisson number of hits over the integration, uniform in pixel and frame,
    log-uniform in charge (a rough stand-in for the steep JWST CR energy spectrum)."""
    ny, nx = shape
    expected = cr_per_pixel_per_s * ny * nx * nframes_total * tframe
    n = int(rng.poisson(expected)) if expected > 0 else 0
    if n == 0:
        return []
    frames = rng.integers(0, nframes_total, n)
    ys = rng.integers(0, ny, n)
    xs = rng.integers(0, nx, n)
    lo, hi = np.log(cr_electrons[0]), np.log(cr_electrons[1])
    charge = np.exp(rng.uniform(lo, hi, n))
    order = np.argsort(frames, kind="stable")
    return [CosmicRay(integration, int(frames[k]), int(ys[k]), int(xs[k]), float(charge[k]))
            for k in order]


def _validate(rate_e, nints, ngroups, nframes, groupgap, tframe):
    rate = np.asarray(rate_e, dtype=np.float64)
    if rate.ndim != 2:
        raise ValueError(f"rate_e must be 2-D (ny, nx), got shape {rate.shape}")
    if not np.all(np.isfinite(rate)) or np.any(rate < 0):
        raise ValueError("rate_e must be finite and >= 0 (e-/s)")
    if nints < 1 or ngroups < 1 or nframes < 1 or groupgap < 0:
        raise ValueError("need nints, ngroups, nframes >= 1 and groupgap >= 0")
    if not tframe > 0:
        raise ValueError(f"tframe must be > 0 s, got {tframe}")
    return rate


def simulate_ramps(rate_e, *, nints: int, ngroups: int, nframes: int = 1, groupgap: int = 0,
                   tframe: float, read_noise_e=10.0, cr_per_pixel_per_s: float = 0.0,
                   cr_electrons: tuple[float, float] = (500.0, 30000.0),
                   full_well_e: float | None = None, dtype=np.float32,
                   rng: np.random.Generator | int = 0,
                   variable: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, RampTruth]:
    """Simulate MULTIACCUM ramps in electrons.

    Parameters
    ----------
    rate_e : array_like, (ny, nx)
        Charge rate, e-/s (>= 0).
    nints, ngroups, nframes, groupgap : int
        Exposure layout as in the JWST header keywords.
    tframe : float
        Frame time, s.
    read_noise_e : float or array_like (ny, nx)
        Single-frame read noise, e- (the CDS noise is sqrt(2) times this).
    cr_per_pixel_per_s : float
        Cosmic-ray hit rate per pixel, 1/s (JWST: roughly 5e-5 including secondaries).
    cr_electrons : (float, float)
        Range of the deposited charge, e-, drawn log-uniformly.
    full_well_e : float, optional
        Charge is clipped here; pixels that reach it are the saturated ones.
    dtype : numpy dtype
        Output dtype.
    rng : numpy.random.Generator or int
        Generator or seed.
    variable : (ndarray (ny, nx), ndarray (nints, nframes_total)), optional
        A part of ``rate_e`` that varies in time (e.g. a transited star), e-/s, and the factor
        it is scaled by in each frame (its mean over the frame's interval); frames count the
        dropped ones, ``nframes_total = (ngroups - 1) * (nframes + groupgap) + nframes``.
        Frame ``f`` then collects Poisson(``(rate_e + variable * (factor - 1)) * tframe``).
        None: constant rates (the same draws as without the argument).

    Returns
    -------
    ramps : ndarray, (nints, ngroups, ny, nx), ``dtype``
        Each group's mean frame read, e-.
    truth : RampTruth

    Examples
    --------
    >>> ramps, truth = simulate_ramps(np.full((2, 3), 10.0), nints=1, ngroups=4, tframe=10.0,
    ...                               read_noise_e=0.0)
    >>> ramps.shape, bool(np.all(ramps[0, 1] > ramps[0, 0]))
    ((1, 4, 2, 3), True)
    """
    rate = _validate(rate_e, nints, ngroups, nframes, groupgap, tframe)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    shape = rate.shape
    rn = np.broadcast_to(np.asarray(read_noise_e, dtype=np.float64), shape)
    has_rn = bool(np.any(rn != 0))
    lam = rate * tframe  # expected e- per frame
    period = nframes + groupgap
    nframes_total = (ngroups - 1) * period + nframes  # trailing gap after the last group unread

    varying = _check_variable(variable, shape, nints, nframes_total, tframe)
    out = np.empty((nints, ngroups) + shape, dtype=dtype)
    jump_groups = np.zeros((nints, ngroups) + shape, dtype=bool)
    cosmic_rays: list[CosmicRay] = []
    charge = np.empty(shape)
    acc = np.empty(shape)
    for i in range(nints):
        hits = _draw_cosmic_rays(gen, i, nframes_total, shape, cr_per_pixel_per_s, tframe,
                                 cr_electrons)
        cosmic_rays.extend(hits)
        for cr in hits:
            g = group_of_frame(cr.frame, nframes, groupgap)
            if g < ngroups:
                jump_groups[i, g, cr.y, cr.x] = True
        lams = _FrameRates(lam) if varying is None else _FrameRates(lam, varying[0], varying[1][i])
        _simulate_integration(out[i], charge, acc, lams, rn if has_rn else None, hits, nframes,
                              period, nframes_total, full_well_e, gen)
    return out, RampTruth(rate_e=rate, cosmic_rays=cosmic_rays, jump_groups=jump_groups)


def _check_variable(variable, shape, nints, nframes_total, tframe):
    """``variable`` as (expected e- per frame at factor 1, float64 (ny, nx); factors, float64
    (nints, nframes_total)), or None."""
    if variable is None:
        return None
    rate, factors = np.asarray(variable[0], np.float64), np.asarray(variable[1], np.float64)
    if rate.shape != shape or factors.shape != (nints, nframes_total):
        raise ValueError(f"variable: need rates {shape} and factors {(nints, nframes_total)}, "
                         f"got {rate.shape} and {factors.shape}")
    if not (np.all(np.isfinite(rate)) and np.all(rate >= 0) and np.all(factors >= 0)):
        raise ValueError("variable rates and factors must be finite and >= 0")
    return rate * tframe, factors


class _FrameRates:
    """Expected e- per frame of one integration: constant ``lam``, or ``lam`` plus
    ``var * (factor[f] - 1)`` (clipped at 0) in frame ``f``."""

    def __init__(self, lam: np.ndarray, var: np.ndarray | None = None, factors: np.ndarray | None = None):
        self.lam, self.var, self.factors = lam, var, factors

    def __call__(self, frame: int) -> np.ndarray:
        if self.var is None:
            return self.lam
        return np.maximum(self.lam + self.var * (self.factors[frame] - 1.0), 0.0)


def _simulate_integration(out, charge, acc, lams, rn, hits, nframes, period, nframes_total,
                          full_well_e, gen) -> None:
    """Fill ``out`` (ngroups, ny, nx) for one integration, frame by frame (``lams(f)``:
    expected e- in frame ``f``)."""
    charge.fill(0.0)  # reset
    k = 0
    for f in range(nframes_total):
        charge += gen.poisson(lams(f))
        while k < len(hits) and hits[k].frame == f:
            charge[hits[k].y, hits[k].x] += hits[k].electrons
            k += 1
        if full_well_e is not None:
            np.minimum(charge, full_well_e, out=charge)
        g, pos = divmod(f, period)
        if pos >= nframes:
            continue  # dropped frame: charge accumulates, nothing is kept
        if pos == 0:
            acc.fill(0.0)
        acc += charge
        if rn is not None:
            acc += gen.standard_normal(charge.shape) * rn
        if pos == nframes - 1:
            np.multiply(acc, 1.0 / nframes, out=out[g], casting="unsafe")
