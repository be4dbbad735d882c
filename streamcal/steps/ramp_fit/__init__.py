"""ramp_fit: slopes from ramps by optimally weighted OLS (jwst RampFitStep, algorithm OLS_C).

Reference files: READNOISE (CDS read noise, DN) and GAIN (e-/DN).  Produces the ``rate``
(2-D) and ``rateints`` (3-D, always computed) images in DN/s with ERR, DQ, VAR_POISSON and
VAR_RNOISE.  The rules are stcal 1.20's C fitter, listed in :mod:`.ols`.

Kernels: :func:`fit_ramps` (whole exposure); per segment :func:`~.ols.ols_segment_slope`,
:func:`~.ols.find_segments`, :func:`~.ols.rnoise_var`, :func:`~.ols.poisson_var`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping

from ...errors import NotImplementedStepError
from ...models import ImageModel, RampFitOutput, RampModel
from ...refs.model import RefData
from ..base import StepParams, StepReport, skipped
from .exposure import FitArrays, fit_ramps

__all__ = ["NAME", "STATUS_KEYWORD", "REFTYPES", "OPTIONAL_REFTYPES", "Params", "run",
           "fit_ramps", "FitArrays"]

NAME = "ramp_fit"
STATUS_KEYWORD = "S_RAMP"
REFTYPES = ("readnoise", "gain")
OPTIONAL_REFTYPES: tuple[str, ...] = ()

_ALGORITHMS = ("OLS", "OLS_C", "LIKELY")


@dataclass(frozen=True)
class Params(StepParams):
    """jwst RampFitStep parameters (code defaults of jwst 3.0).

    Attributes
    ----------
    algorithm : str
        ``"OLS_C"`` (or its alias ``"OLS"``).  ``"LIKELY"`` is not implemented.
    weighting : str
        Only ``"optimal"`` exists.
    suppress_one_group : bool
        Ramps with a single good group get DO_NOT_USE and no slope.
    firstgroup, lastgroup : int or None
        0-based first and last group to fit; other groups count as DO_NOT_USE.
    maximum_cores : str
        Accepted for jwst compatibility; streamcal uses one core per exposure.
    """

    algorithm: str = "OLS_C"
    weighting: str = "optimal"
    suppress_one_group: bool = True
    firstgroup: int | None = None
    lastgroup: int | None = None
    maximum_cores: str = "1"

    def __post_init__(self):
        if self.algorithm.upper() not in _ALGORITHMS:
            raise ValueError(f"ramp_fit.algorithm must be one of {', '.join(_ALGORITHMS)}, "
                             f"got {self.algorithm!r}")
        if self.weighting != "optimal":
            raise ValueError(f"ramp_fit.weighting: only 'optimal' exists, got {self.weighting!r}")


def _image(ramp: RampModel, arrays: FitArrays, meta) -> ImageModel:
    return ImageModel(meta=meta, header=ramp.header.copy(), data=arrays.slope, err=arrays.err,
                      dq=arrays.dq, var_poisson=arrays.var_poisson, var_rnoise=arrays.var_rnoise,
                      sci_header=ramp.sci_header.copy(), int_times=ramp.int_times)


def run(ramp: RampModel, refs: Mapping[str, RefData],
        params: Params) -> tuple[RampFitOutput | RampModel, StepReport]:
    """Fit the ramps; returns the ``rate``/``rateints`` products (the ramp is not modified).

    Raises
    ------
    NotImplementedStepError
        For ``algorithm="LIKELY"`` on ramps of 4 groups or more (jwst falls back to OLS_C below).
    """
    if params.skip:
        return ramp, skipped("skipped by parameter")
    missing = [r for r in REFTYPES if r not in refs]
    if missing:
        return ramp, skipped(f"no {', '.join(missing)} reference file applies")
    if params.algorithm.upper() == "LIKELY" and ramp.data.shape[1] >= 4:
        raise NotImplementedStepError("ramp_fit: the LIKELY algorithm is not implemented; use OLS_C")
    meta = ramp.meta
    gain_ref = refs["gain"]
    result = fit_ramps(ramp.data, ramp.groupdq, ramp.pixeldq, gain_ref.arrays["SCI"],
                       refs["readnoise"].arrays["SCI"], tframe=meta.tframe, tgroup=meta.tgroup,
                       nframes=meta.nframes, instrument=meta.instrument,
                       average_dark_current=ramp.average_dark_current, zeroframe=ramp.zeroframe,
                       suppress_one_group=params.suppress_one_group,
                       firstgroup=params.firstgroup, lastgroup=params.lastgroup)
    if result is None:
        return ramp, skipped("no usable group in any ramp (group 0 saturated everywhere, or "
                             "too few MIRI groups): no rate product, as in jwst")
    gainfact = gain_ref.header.get("GAINFACT")
    if gainfact is not None:  # jwst carries it on for gain_scale
        meta = replace(meta, gainfact=float(gainfact))
    rate, rateints = (_image(ramp, arrays, meta) for arrays in result)
    if gainfact is not None:
        for product in (rate, rateints):
            product.header["GAINFACT"] = float(gainfact)
    return RampFitOutput(rate=rate, rateints=rateints), StepReport()
