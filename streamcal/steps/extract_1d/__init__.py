"""extract_1d: box extraction of slit-like spectra (MIRI LRS fixed slit and slitless, grism
cutouts) as jwst 3.0 does it, as pure functions on arrays.

- :func:`aperture_params` -- the EXTRACT1D (JSON) aperture and step overrides, resolved;
- :func:`extract_slit` -- weights, background, sums, units, aperture correction;
- :func:`select_apcorr` -- the APCORR row of an exposure.

The caller evaluates the WCS (wavelength image, source location, RA/Dec of the aperture
centre) and writes the products (:mod:`streamcal.spectra`).
"""

from .apcorr import APCORR_MATCH, ApertureCorrection, select_apcorr
from .extract import Extraction, extract_slit
from .params import ExtractParams, aperture_params
from .profile import ApertureLimits, aperture_center, box_profile

__all__ = ["APCORR_MATCH", "ApertureCorrection", "select_apcorr", "Extraction", "extract_slit", "ExtractParams",
           "aperture_params", "ApertureLimits", "aperture_center", "box_profile"]
