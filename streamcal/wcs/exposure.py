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


def valid_area(distortion: Model) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """The ``((x0, x1), (y0, y1))`` pixel-edge limits a DISTORTION transform carries (CRDS
    MIRI imager files: the reference columns left out); None when it carries none."""
    try:
        box = distortion.bounding_box
    except NotImplementedError:
        return None
    (x0, x1), (y0, y1) = box.bounding_box(order="F")
    return (float(x0), float(x1)), (float(y0), float(y1))


def exposure_wcs(pointing: Pointing, distortion: Model, *, shape: tuple[int, int],
                 substrt: tuple[int, int] = (1, 1), offset: tuple[float, float] = (0.0, 0.0)) -> WCS:
    """The imaging gwcs of an exposure.

    Its bounding box follows jwst 3.0's assign_wcs: a subarray not starting at the first
    pixel covers the whole subarray; otherwise the distortion's own valid area (CRDS MIRI
    imager files leave out the reference columns) when it has one, else the whole image.  The
    footprint (S_REGION) and hence resample's output grid follow from it.

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
    area = valid_area(distortion)
    # a copy: without shifts the WCS's forward transform is the model itself, and setting the
    # WCS's bounding box would rebind the box of the reference file's (cached, shared) model
    wcs = imaging_wcs(pointing, distortion.copy(), shape=shape, offset=(dx, dy))
    if tuple(substrt) == (1, 1) and area is not None:
        # jwst keeps the reference file's box only without a subarray shift; pixel coordinates
        # of such an image are full-frame ones, so the box applies as it is
        wcs.bounding_box = area
    return wcs


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


def footprint_corners(wcs: WCS, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-edge corners (x, y) of a WCS's bounding box (of the whole ``shape`` (ny, nx)
    image when it has none), in gwcs ``footprint`` order: (x0, y0), (x0, y1), (x1, y1),
    (x1, y0)."""
    ny, nx = shape
    (x0, x1), (y0, y1) = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    if wcs.bounding_box is not None:
        (x0, x1), (y0, y1) = wcs.bounding_box.bounding_box(order="F")
    return np.array([x0, x0, x1, x1], float), np.array([y0, y1, y1, y0], float)


def s_region(wcs: WCS, shape: tuple[int, int]) -> str:
    """``POLYGON ICRS ra1 dec1 ... ra4 dec4`` (deg) of the corners of the WCS's valid area
    (:func:`footprint_corners`), the S_REGION keyword of jwst products; jwst's resample builds
    its output grid from these strings."""
    x, y = footprint_corners(wcs, shape)
    ra, dec = wcs(x, y, with_bounding_box=False)
    ra = np.mod(ra, 360.0)  # as jwst writes it: RA in [0, 360)
    return "POLYGON ICRS " + " ".join(f"{r:.9f} {d:.9f}" for r, d in zip(ra, dec))
