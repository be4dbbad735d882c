"""The WCS of one exposure from its references: subarray position + filter offset +
distortion + pointing (what jwst's assign_wcs does for imaging), and its FITS forms: a SIP
approximation for the SCI header and the S_REGION footprint."""

from __future__ import annotations

import warnings
from typing import Iterable, Mapping

import numpy as np
from astropy.io import fits
from astropy.modeling import Model
from gwcs import WCS
from scipy import linalg

from .build import imaging_wcs
from .pointing import Pointing

#: FITS WCS keywords replaced when a new SIP approximation is written.
_WCS_KEY_PREFIXES = ("CTYPE", "CRPIX", "CRVAL", "CDELT", "CUNIT", "CD1_", "CD2_", "PC1_", "PC2_", "A_", "B_",
                     "AP_", "BP_")
_WCS_KEYS = ("WCSAXES", "LONPOLE", "LATPOLE", "RADESYS", "EQUINOX", "MJDREF", "WCSNAME", "SIPMXERR",
             "SIPIVERR")


def _blank(value: object) -> bool:
    return value is None or str(value).strip().upper() in ("", "N/A", "NONE", "ANY")


def filter_offset(filters: Iterable[Mapping], filter_name: str, pupil: str | None = None) -> tuple[float, float] | None:
    """(column_offset, row_offset) pixels of a FILTEROFFSET ``filters`` list for an exposure;
    a row with a pupil must match the pupil too.  None when no row applies.

    >>> rows = [{"filter": "F200W", "pupil": "CLEAR", "column_offset": 0.1, "row_offset": -0.2}]
    >>> filter_offset(rows, "F200W", "CLEAR"), filter_offset(rows, "F200W", "F162M")
    ((0.1, -0.2), None)
    """
    want_f = str(filter_name).strip().upper()
    want_p = None if _blank(pupil) else str(pupil).strip().upper()
    for row in filters:
        if str(row.get("filter", "")).strip().upper() != want_f:
            continue
        row_pupil = row.get("pupil")
        if not _blank(row_pupil) and want_p is not None and str(row_pupil).strip().upper() != want_p:
            continue
        return float(row["column_offset"]), float(row["row_offset"])
    return None


def exposure_wcs(pointing: Pointing, distortion: Model, *, shape: tuple[int, int],
                 substrt: tuple[int, int] = (1, 1), offset: tuple[float, float] = (0.0, 0.0)) -> WCS:
    """The imaging gwcs of an exposure.

    Parameters
    ----------
    pointing : Pointing
    distortion : astropy Model
        Full-frame 0-based detector pixels -> V2/V3 arcsec (a DISTORTION file's ``model``).
    shape : (ny, nx)
        Image shape (the subarray).
    substrt : (int, int)
        SUBSTRT1, SUBSTRT2: 1-based full-frame column and row of the subarray's first pixel.
    offset : (float, float)
        Filter offset (column, row) pixels, added to full-frame coordinates.
    """
    dx = substrt[0] - 1 + offset[0]
    dy = substrt[1] - 1 + offset[1]
    return imaging_wcs(pointing, distortion, shape=shape, offset=(dx, dy))


def sip_cards(wcs: WCS, shape: tuple[int, int], *, max_pix_error: float = 0.01, degree: int | None = None,
              max_inv_pix_error: float = 0.01, inv_degree: int | None = None, npoints: int = 12) -> fits.Header:
    """FITS TAN-SIP approximation of a gwcs over an image of ``shape`` (ny, nx), as jwst
    writes into the SCI header (gwcs ``to_fits_sip``; CRPIX at the image centre).  The fit
    aims at ``max_pix_error`` pixels (forward) and ``max_inv_pix_error`` (inverse); what it
    reached is in SIPMXERR and SIPIVERR (:func:`sip_shortfall` compares them)."""
    ny, nx = shape
    bbox = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", linalg.LinAlgWarning)  # a shortfall is reported by the caller
        cards = wcs.to_fits_sip(bounding_box=bbox, max_pix_error=max_pix_error, degree=degree,
                                max_inv_pix_error=max_inv_pix_error, inv_degree=inv_degree, npoints=npoints,
                                crpix=((nx + 1) / 2.0, (ny + 1) / 2.0))
    for key in ("NAXIS", "NAXIS1", "NAXIS2"):  # the HDU's own business
        cards.remove(key, ignore_missing=True)
    return cards


def sip_shortfall(cards: fits.Header, max_pix_error: float, max_inv_pix_error: float) -> str:
    """"" when a SIP approximation meets its accuracy goals, else what it missed.

    >>> sip_shortfall(fits.Header({"SIPMXERR": 0.004, "SIPIVERR": 0.02}), 0.01, 0.01)
    'SIP inverse error 0.0200 px > 0.01'
    """
    missed = []
    for key, goal, what in (("SIPMXERR", max_pix_error, "SIP error"), ("SIPIVERR", max_inv_pix_error,
                                                                         "SIP inverse error")):
        value = float(cards.get(key, 0.0))
        if value > goal:
            missed.append(f"{what} {value:.4f} px > {goal:g}")
    return "; ".join(missed)


def replace_wcs_cards(header: fits.Header, cards: fits.Header) -> None:
    """Drop the FITS WCS keywords of ``header`` (a raw file's TAN, an older SIP) and put
    ``cards`` in, in place."""
    for key in list(header.keys()):
        if key in _WCS_KEYS or key.startswith(_WCS_KEY_PREFIXES):
            del header[key]
    header.extend(cards, update=True)


def s_region(wcs: WCS, shape: tuple[int, int]) -> str:
    """``POLYGON ICRS ra1 dec1 ... ra4 dec4`` of the image corners (pixel edges), deg, the
    S_REGION keyword of jwst products."""
    ny, nx = shape
    x = np.array([-0.5, nx - 0.5, nx - 0.5, -0.5])
    y = np.array([-0.5, -0.5, ny - 0.5, ny - 0.5])
    ra, dec = wcs(x, y, with_bounding_box=False)
    return "POLYGON ICRS " + " ".join(f"{r:.9f} {d:.9f}" for r, d in zip(ra, dec))
