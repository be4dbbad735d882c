"""Aperture corrections of box-extracted point sources (APCORR reference, FITS table).

MIRI LRS, MIRI/NIRCam/NIRISS WFSS: one table row per subarray (MIRI) or filter+pupil (NIRCam,
NIRISS), holding ``wavelength[nelem_wl]`` (µm), ``size[nelem_size]`` (aperture size, in
SIZEUNIT: pixels or arcsec) and ``apcorr[nelem_wl, nelem_size]``; the correction at a
sample is the bilinear interpolation (extrapolation past the grid) at (aperture size in
pixels = NPIXELS, wavelength).  The NIRSpec (pixel phase) and IFU (radius) forms are not
implemented here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

__all__ = ["ApertureCorrection", "select_apcorr", "APCORR_MATCH"]

#: Table columns matched to the exposure, by instrument (jwst 3.0).
APCORR_MATCH = {"MIRI": ("subarray",), "NIRCAM": ("filter", "pupil"), "NIRISS": ("filter", "pupil")}


@dataclass(frozen=True)
class ApertureCorrection:
    """One resolved APCORR row: ``wavelength`` (µm, increasing), ``size`` (pixels) and
    ``apcorr`` ``(n_wl, n_size)``."""

    wavelength: np.ndarray
    size: np.ndarray
    apcorr: np.ndarray

    def factors(self, wavelength: np.ndarray, npixels: np.ndarray) -> np.ndarray:
        """Correction factors (multiply FLUX/SURF_BRIGHT and their errors; variances by the
        square) at each sample's wavelength (µm) and aperture size (pixels)."""
        from scipy.interpolate import RectBivariateSpline

        spline = RectBivariateSpline(self.size, self.wavelength, self.apcorr.T, kx=1, ky=1)
        return np.array([spline(n, w).item() for n, w in zip(npixels, wavelength)], dtype=float)


def _column(table, name: str):
    names = {n.lower(): n for n in table.dtype.names}
    if name.lower() not in names:
        raise KeyError(f"APCORR table has no column {name!r}")
    return table[names[name.lower()]]


def select_apcorr(table: np.ndarray, sizeunit: str, instrument: str, match: Mapping[str, str],
                  pixel_scale_arcsec: float | None = None) -> ApertureCorrection:
    """The row of an APCORR table for an exposure.

    Parameters
    ----------
    table : structured ndarray
        The ``APCORR`` extension.
    sizeunit : str
        SIZEUNIT: ``"pixels"`` or ``"arcsec"``.
    instrument : str
        MIRI, NIRCAM or NIRISS.
    match : mapping
        Exposure values of :data:`APCORR_MATCH`'s columns (``{"subarray": "FULL"}`` ...),
        compared case-insensitively.
    pixel_scale_arcsec : float, optional
        Cross-dispersion pixel scale, needed when the sizes are in arcsec.

    Raises
    ------
    ValueError
        Not exactly one row matches, or arcsec sizes without a pixel scale.
    NotImplementedError
        An instrument with another APCORR form (NIRSpec).
    """
    keys = APCORR_MATCH.get(instrument.upper())
    if keys is None:
        raise NotImplementedError(f"aperture correction for {instrument} is not implemented")
    rows = np.ones(len(table), bool)
    for key in keys:
        column = np.char.upper(np.char.strip(np.asarray(_column(table, key)).astype(str)))
        rows &= column == str(match[key]).strip().upper()
    if rows.sum() != 1:
        raise ValueError(f"APCORR: {int(rows.sum())} rows match {dict(match)}")
    nwl, nsize = int(_column(table, "nelem_wl")[rows][0]), int(_column(table, "nelem_size")[rows][0])
    wavelength = np.asarray(_column(table, "wavelength")[rows][0][:nwl], dtype=float)
    size = np.asarray(_column(table, "size")[rows][0][:nsize], dtype=float)
    apcorr = np.asarray(_column(table, "apcorr")[rows][0][:nwl, :nsize], dtype=float)
    if sizeunit.lower().startswith("arcsec"):
        if pixel_scale_arcsec is None:
            raise ValueError("APCORR sizes are in arcsec: a pixel scale is needed")
        size = size / pixel_scale_arcsec
    order = np.argsort(wavelength)
    return ApertureCorrection(wavelength[order], size, apcorr[order])
