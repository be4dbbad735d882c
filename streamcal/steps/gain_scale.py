"""gain_scale: rescale rate products taken with a non-standard gain setting (GAINFACT).

Applied after ramp fitting to both ``rate`` and ``rateints``: SCI and ERR are multiplied by
GAINFACT, VAR_POISSON and VAR_RNOISE by GAINFACT squared.  GAINFACT comes from the exposure
header or, failing that, from the GAIN reference file's header (where jwst keeps it); without it
the step is SKIPPED.  In practice this concerns NIRSpec subarrays read with gain setting 2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..models import ImageModel, RampFitOutput
from ..refs.model import RefData
from .base import StepParams, StepReport, skipped

NAME = "gain_scale"
STATUS_KEYWORD = "S_GANSCL"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES = ("gain",)


@dataclass(frozen=True)
class Params(StepParams):
    """gain_scale has no parameters besides ``skip``."""


def scale_image_inplace(image: ImageModel, factor: float) -> None:
    """Multiply SCI and ERR by ``factor`` and the variances by ``factor**2``, in place.

    Parameters
    ----------
    image : ImageModel
        ``data``/``err`` in DN/s, ``var_poisson``/``var_rnoise`` in (DN/s)^2 (may be None).
    factor : float
        GAINFACT, dimensionless.

    Examples
    --------
    >>> from astropy.io import fits
    >>> im = ImageModel(None, fits.Header(), np.ones(2, np.float32), np.ones(2, np.float32),
    ...                 np.zeros(2, np.uint32), np.ones(2, np.float32), None)
    >>> scale_image_inplace(im, 2.0); im.data.tolist(), im.var_poisson.tolist()
    ([2.0, 2.0], [4.0, 4.0])
    """
    f = np.float32(factor)
    image.data *= f
    image.err *= f
    for var in (image.var_poisson, image.var_rnoise):
        if var is not None:
            var *= f * f


def gain_factor(refs: Mapping[str, RefData], exposure_gainfact: float | None) -> float | None:
    """GAINFACT from the exposure, else from the gain reference header; None if neither has it.

    Examples
    --------
    >>> from astropy.io import fits
    >>> r = {"gain": RefData("gain", "test", fits.Header({"GAINFACT": 1.5}))}
    >>> gain_factor(r, None), gain_factor(r, 2.0), gain_factor({}, None)
    (1.5, 2.0, None)
    """
    value = exposure_gainfact
    if value is None and refs.get("gain") is not None:
        value = refs["gain"].header.get("GAINFACT")
    return None if value is None else float(value)


def run(result: RampFitOutput, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampFitOutput, StepReport]:
    """Scale ``result.rate`` and ``result.rateints`` in place by GAINFACT."""
    if params.skip:
        return result, skipped("skipped by parameter")
    if not isinstance(result, RampFitOutput):
        return result, skipped("gain_scale needs ramp_fit's rate products")
    factor = gain_factor(refs, result.rate.meta.gainfact if result.rate.meta else None)
    if factor is None:
        return result, skipped("no GAINFACT in the gain reference file or the exposure header")
    for image in (result.rate, result.rateints):
        if image is not None:
            scale_image_inplace(image, factor)
    return result, StepReport(note=f"rate products scaled by GAINFACT={factor:g}",
                              keywords={"GAINFACT": factor})
