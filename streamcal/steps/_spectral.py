"""What the spectroscopic calibration steps share: the per-pixel wavelength map of a 2-D
spectral image, and the dispersion direction of a mode."""

from __future__ import annotations

import numpy as np

__all__ = ["wavelength_map", "dispersion_axis", "GRISM_EXP_TYPES", "WFSS_EXP_TYPES"]

WFSS_EXP_TYPES = frozenset({"NRC_WFSS", "NIS_WFSS", "MIR_WFSS"})
#: Slitless grism modes whose PHOTOM response has the dispersion (um/px) factored out.
GRISM_EXP_TYPES = WFSS_EXP_TYPES | {"NRC_TSGRISM", "NRC_GRISM"}


def wavelength_map(wcs, shape: tuple[int, ...]) -> np.ndarray:
    """Wavelength (um) of every pixel of an image of ``shape`` (last two axes used).

    Parameters
    ----------
    wcs : callable
        A gwcs (or any callable) mapping ``(x, y)`` 0-based detector pixels to a tuple whose
        third member is the wavelength in um (``(ra, dec, wavelength)``).
    shape : tuple
        Image shape, ``(..., ny, nx)``.

    Returns
    -------
    ndarray, float64, (ny, nx)
        Wavelength in um; NaN where the WCS gives none (off the slit or trace).

    Examples
    --------
    >>> wavelength_map(lambda x, y: (x, y, 5.0 + 0.1 * x), (2, 3)).tolist()
    [[5.0, 5.1, 5.2], [5.0, 5.1, 5.2]]
    """
    if wcs is None:
        raise ValueError("the spectral image has no WCS: run assign_wcs first")
    y, x = np.indices(shape[-2:], dtype=np.float64)
    return np.asarray(wcs(x, y)[2], dtype=np.float64)


def dispersion_axis(exp_type: str, filter_name: str, pupil: str) -> int | None:
    """Array axis counted jwst-style (1: along rows, x; 2: along columns, y) along which light is
    dispersed, for the slitless grism modes and MIRI LRS; None when the mode has none.

    Examples
    --------
    >>> dispersion_axis("NRC_WFSS", "F444W", "GRISMR"), dispersion_axis("NIS_WFSS", "GR150R", "F150W")
    (1, 2)
    """
    if exp_type in ("NRC_WFSS", "NRC_GRISM", "NRC_TSGRISM"):
        return {"GRISMR": 1, "GDHS0": 1, "GRISMC": 2}.get(pupil.strip().upper())
    if exp_type == "NIS_WFSS":
        return {"GR150R": 2, "GR150C": 1}.get(filter_name.strip().upper())
    if exp_type in ("MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_WFSS"):
        return 2
    return None
