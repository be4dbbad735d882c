"""A planet transiting the target star of a time-series exposure.

The light curve is a trapezoid: flux 1 out of transit, ``1 - depth`` between second and third
contact, linear in between during ingress (first to second contact) and egress (third to
fourth).  It is the standard first-order transit shape (a small planet on a uniform disc has
ingress and egress close to linear); limb darkening is not simulated, so the bottom is flat.

Times are seconds from the exposure start (EXPSTART).  The detector integrates the flux over
time, so every frame gets the mean of the light curve over its own interval, computed exactly
(:meth:`Transit.mean_flux`): a frame read at ``t`` collected the charge of ``[t - TFRAME, t]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .headers import Timing

#: Default ingress (first to second contact) as a fraction of the total duration (first to
#: fourth contact): a typical hot Jupiter (ingress ~20 min of a ~3 h transit).
DEFAULT_INGRESS_FRACTION = 0.1


@dataclass(frozen=True)
class Transit:
    """A trapezoidal transit light curve.

    Attributes
    ----------
    depth : float
        Fractional flux loss at mid-transit, 0 <= depth < 1 ((Rp/R*)^2 for a uniform disc).
    mid_s : float
        Mid-transit time, s from the exposure start.
    duration_s : float
        Total duration, first to fourth contact (T14), s (> 0).
    ingress_s : float
        Ingress (= egress) duration, first to second contact, s (0 <= ingress <= T14 / 2; 0 is
        a box-shaped transit).
    """

    depth: float
    mid_s: float
    duration_s: float
    ingress_s: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.depth < 1.0:
            raise ValueError(f"transit depth must be in [0, 1), got {self.depth}")
        if not self.duration_s > 0.0:
            raise ValueError(f"transit duration must be > 0 s, got {self.duration_s}")
        if not 0.0 <= self.ingress_s <= 0.5 * self.duration_s:
            raise ValueError(f"ingress must be in [0, duration/2] = [0, {0.5 * self.duration_s}] s, "
                             f"got {self.ingress_s}")

    @property
    def contacts(self) -> tuple[float, float, float, float]:
        """First to fourth contact, s from the exposure start."""
        t1 = self.mid_s - 0.5 * self.duration_s
        t4 = self.mid_s + 0.5 * self.duration_s
        return t1, t1 + self.ingress_s, t4 - self.ingress_s, t4

    def relative_flux(self, t: np.ndarray | float) -> np.ndarray:
        """Instantaneous flux relative to out of transit at ``t`` (s from the exposure start).

        >>> tr = Transit(depth=0.01, mid_s=100.0, duration_s=60.0, ingress_s=10.0)
        >>> [round(float(f), 4) for f in tr.relative_flux([0.0, 75.0, 100.0, 125.0])]
        [1.0, 0.995, 0.99, 0.995]
        """
        t = np.asarray(t, dtype=np.float64)
        t1, t2, t3, t4 = self.contacts
        if self.ingress_s > 0.0:
            shape = np.clip(np.minimum(t - t1, t4 - t) / self.ingress_s, 0.0, 1.0)
        else:
            shape = ((t >= t1) & (t <= t4)).astype(np.float64)
        return 1.0 - self.depth * shape

    def mean_flux(self, t0: np.ndarray | float, t1: np.ndarray | float) -> np.ndarray:
        """Mean relative flux over the intervals ``[t0, t1]`` (s, ``t1 > t0``), exact.

        >>> tr = Transit(depth=0.01, mid_s=100.0, duration_s=60.0, ingress_s=0.0)
        >>> [round(float(f), 6) for f in tr.mean_flux([0.0, 60.0, 80.0], [10.0, 80.0, 120.0])]
        [1.0, 0.995, 0.99]
        """
        t0, t1 = np.asarray(t0, dtype=np.float64), np.asarray(t1, dtype=np.float64)
        area = self._cumulative_shape(t1) - self._cumulative_shape(t0)
        return 1.0 - self.depth * area / (t1 - t0)

    def _cumulative_shape(self, t: np.ndarray) -> np.ndarray:
        """Integral of the unit-depth shape from -inf to ``t``, s.  The trapezoid is a sum of
        four ramps ``max(t - c, 0) / ingress`` (signs +, -, -, +), whose integrals are
        ``max(t - c, 0)**2 / (2 ingress)``; a box is a sum of two steps."""
        a, b, c, d = self.contacts
        if self.ingress_s == 0.0:
            return np.maximum(t - a, 0.0) - np.maximum(t - d, 0.0)

        def q(x: np.ndarray) -> np.ndarray:
            return 0.5 * np.maximum(x, 0.0) ** 2

        return (q(t - a) - q(t - b) - q(t - c) + q(t - d)) / self.ingress_s


def transit_of(depth: float, mid_s: float | None, duration_s: float | None, ingress_s: float | None,
               timing: Timing) -> Transit | None:
    """The transit an exposure config asks for, defaults filled in; None when ``depth`` is 0.

    Parameters
    ----------
    depth : float
        Fractional depth (0: no transit).
    mid_s, duration_s, ingress_s : float or None
        s; defaults: mid-exposure, a third of the exposure (DURATION), a tenth of the transit.
    timing : Timing
    """
    if depth == 0.0:
        return None
    duration = timing.duration / 3.0 if duration_s is None else float(duration_s)
    mid = timing.duration / 2.0 if mid_s is None else float(mid_s)
    ingress = DEFAULT_INGRESS_FRACTION * duration if ingress_s is None else float(ingress_s)
    return Transit(float(depth), mid, duration, ingress)


def integration_window(timing: Timing) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each integration's collecting time, s from the exposure start: from
    the reset to the last read (the INT_TIMES start/end)."""
    start = np.arange(timing.nints) * timing.integration_cycle
    return start, start + timing.effinttm


def frame_factors(transit: Transit, timing: Timing) -> np.ndarray:
    """Mean relative flux collected by every frame, (nints, frames per integration) float64,
    frames counting the dropped (GROUPGAP) ones: frame ``f`` of integration ``i`` collects over
    ``[i * cycle + f * TFRAME, i * cycle + (f + 1) * TFRAME]`` (cycle: integration + reset)."""
    period = timing.nframes + timing.groupgap
    nframes_total = (timing.ngroups - 1) * period + timing.nframes
    start = np.arange(timing.nints)[:, None] * timing.integration_cycle
    t0 = start + np.arange(nframes_total)[None, :] * timing.tframe
    return transit.mean_flux(t0, t0 + timing.tframe)


def integration_flux(transit: Transit, timing: Timing) -> np.ndarray:
    """Mean relative flux over each integration's collecting time, (nints,) float64."""
    start, end = integration_window(timing)
    return transit.mean_flux(start, end)
