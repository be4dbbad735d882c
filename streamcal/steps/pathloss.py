"""pathloss (PATHLOSS) for MIRI LRS fixed slit: the point-source slit-loss correction.

The reference (jwst ``MirLrsPathlossModel``) is a ``PATHLOSS`` table whose rows are wavelengths
(um, decreasing in the CRDS files) with a 2-D ``pathloss`` map each: the correction factor versus
the source position in the slit.  The map's axes are pixels relative to the aperture reference
point, given by CRPIX1/CRVAL1/CDELT1 (x, along the slit) and CRPIX2/CRVAL2/CDELT2 (y, across)
in the table's header.  As jwst 3.0 (``pathloss._corrections_for_lrs``):

1. the source position: SRCXPOS/SRCYPOS when the exposure has them, else the target (TARG_RA,
   TARG_DEC) taken through the inverse WCS at the wavelength of the aperture reference point;
   then made relative to that reference point (pixels);
2. the correction versus wavelength at that position, by bilinear interpolation in each map
   (fractional index ``crpix + (pos - crval) / cdelt - 1``); a source outside the map's inner
   cells (index < 0 or >= n - 1 on either axis) falls back to the slit centre (0, 0);
3. linear interpolation of that vector at each pixel's wavelength; NaN at or below the first
   node, above the last and where the pixel has no wavelength (jwst's padded-table rule);
4. ``SCI, ERR *= P``, ``VAR_* *= P^2`` (every plane of a rateints); NaN and DO_NOT_USE made to
   agree; ``P`` kept as ``pathloss_point`` (the PATHLOSS_PS extension).

The correction is for POINT sources only: any other SRCTYPE skips the step (as jwst).  jwst's
``user_slit_loc`` (a user offset across the slit) is not implemented.  Other modes (NIRSpec,
SOSS) are not implemented; LRS slitless and the grisms have no pathloss step in spec2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import NotImplementedStepError, ReferenceFileError
from ..models import ImageModel
from ..refs.model import RefData
from ._common import match_nans_and_flags
from ._spectral import wavelength_map
from .base import StepParams, StepReport, skipped

__all__ = ["NAME", "STATUS_KEYWORD", "REFTYPES", "Params", "PathlossGrid", "PathlossVector",
           "grid_from_header", "pathloss_vector", "interpolate_on_wavelengths", "source_position", "run"]

NAME = "pathloss"
STATUS_KEYWORD = "S_PTHLOS"
REFTYPES = ("pathloss",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """pathloss parameters (jwst names).

    Attributes
    ----------
    user_slit_loc : float or None
        User source offset across the slit, arcsec (not implemented: must stay None).
    """

    user_slit_loc: float | None = None


@dataclass(frozen=True)
class PathlossGrid:
    """Linear pixel axes of the pathloss maps: position = crval + (index + 1 - crpix) * cdelt,
    in pixels from the aperture reference point; axis 1 is x (columns), axis 2 y (rows)."""

    crpix1: float
    crval1: float
    cdelt1: float
    crpix2: float
    crval2: float
    cdelt2: float


@dataclass(frozen=True)
class PathlossVector:
    """The correction versus wavelength at the source position.

    Attributes
    ----------
    wavelength, pathloss : ndarray, float64, (nwave,)
        Increasing wavelength (um) and the correction factor there.
    position : (float, float)
        Source (x, y) used, pixels from the aperture reference point.
    inside : bool
        False when the source fell outside the map and the slit centre was used.
    """

    wavelength: np.ndarray
    pathloss: np.ndarray
    position: tuple[float, float]
    inside: bool


def grid_from_header(header) -> PathlossGrid:
    """The :class:`PathlossGrid` from a PATHLOSS table header.

    Raises
    ------
    ReferenceFileError
        A keyword is missing.
    """
    keys = ("CRPIX1", "CRVAL1", "CDELT1", "CRPIX2", "CRVAL2", "CDELT2")
    missing = [k for k in keys if header.get(k) is None]
    if missing:
        raise ReferenceFileError(f"PATHLOSS table header lacks {', '.join(missing)}")
    return PathlossGrid(*(float(header[k]) for k in keys))


def _bilinear(cube: np.ndarray, grid: PathlossGrid, x: float, y: float) -> np.ndarray | None:
    """Bilinear interpolation of every map at (x, y); None outside the inner cells."""
    col = grid.crpix1 + (x - grid.crval1) / grid.cdelt1 - 1
    row = grid.crpix2 + (y - grid.crval2) / grid.cdelt2 - 1
    nrows, ncols = cube.shape[1:]
    if col < 0 or col >= ncols - 1 or row < 0 or row >= nrows - 1:
        return None
    j, i = int(col), int(row)
    fx, fy = col - j, row - i
    return ((1 - fx) * (1 - fy) * cube[:, i, j] + (1 - fx) * fy * cube[:, i + 1, j]
            + fx * (1 - fy) * cube[:, i, j + 1] + fx * fy * cube[:, i + 1, j + 1])


def pathloss_vector(wavelength: np.ndarray, cube: np.ndarray, grid: PathlossGrid,
                    position: tuple[float, float]) -> PathlossVector:
    """The correction versus wavelength at ``position`` (steps 2 of the module docstring).

    Parameters
    ----------
    wavelength : ndarray, (nwave,)
        Table wavelengths, um, any order.
    cube : ndarray, (nwave, ny, nx)
        The pathloss maps.
    grid : PathlossGrid
    position : (float, float)
        Source (x, y), pixels from the aperture reference point.

    Examples
    --------
    >>> cube = np.arange(8.0).reshape(2, 2, 2)
    >>> g = PathlossGrid(1, 0.0, 1.0, 1, 0.0, 1.0)
    >>> pathloss_vector(np.array([5.0, 6.0]), cube, g, (0.5, 0.5)).pathloss.tolist()
    [1.5, 5.5]
    """
    values = _bilinear(cube, grid, *position)
    inside = values is not None
    if not inside:  # jwst: a source off the map is corrected as if centred
        position = (0.0, 0.0)
        values = _bilinear(cube, grid, *position)
        if values is None:
            raise ReferenceFileError("the pathloss map does not cover the slit centre")
    order = np.argsort(wavelength)
    return PathlossVector(np.asarray(wavelength, np.float64)[order], np.asarray(values, np.float64)[order],
                          (float(position[0]), float(position[1])), inside)


def interpolate_on_wavelengths(wavelength: np.ndarray, vector: PathlossVector) -> np.ndarray:
    """The correction at each pixel's wavelength (step 3): linear, NaN at or below the first
    table wavelength, above the last and where ``wavelength`` is NaN.

    Examples
    --------
    >>> v = PathlossVector(np.array([5.0, 7.0]), np.array([1.0, 2.0]), (0.0, 0.0), True)
    >>> interpolate_on_wavelengths(np.array([5.0, 6.0, 7.0, np.nan]), v).tolist()
    [nan, 1.5, 2.0, nan]
    """
    out = np.interp(wavelength, vector.wavelength, vector.pathloss, left=np.nan, right=np.nan)
    out[~(wavelength > vector.wavelength[0])] = np.nan  # jwst's padding rule: the first node is NaN
    return out


def source_position(wcs, reference: tuple[float, float], target_radec: tuple[float, float]) -> tuple[float, float]:
    """The target's (x, y) in pixels from the aperture reference point (step 1).

    Parameters
    ----------
    wcs : gwcs.WCS
        detector -> (ra, dec, wavelength) with an inverse.
    reference : (float, float)
        Aperture reference point, 0-based detector pixels.
    target_radec : (float, float)
        TARG_RA, TARG_DEC, degrees.
    """
    _, _, ref_wave = wcs(*reference, with_bounding_box=False)
    x, y = wcs.invert(target_radec[0], target_radec[1], ref_wave, with_bounding_box=False)
    return float(x) - reference[0], float(y) - reference[1]


def reference_point(wcs) -> tuple[float, float]:
    """The aperture reference point carried by an LRS WCS: the first two shifts of its
    detector -> world transform (``offset_1``, ``offset_2``, as jwst reads it)."""
    transform = wcs.get_transform("detector", "world")
    try:
        return -float(transform.offset_1.value), -float(transform.offset_2.value)
    except AttributeError:
        raise ValueError("the LRS WCS carries no aperture reference point (offset_1/offset_2)") from None


def _apply(image: ImageModel, correction: np.ndarray) -> None:
    image.data *= correction
    image.err *= correction
    for var in (image.var_poisson, image.var_rnoise, image.var_flat):
        if var is not None:
            var *= correction * correction
    match_nans_and_flags(image.data, image.dq, image.err, image.var_poisson, image.var_rnoise,
                         image.var_flat)


def _position(image: ImageModel) -> tuple[float, float]:
    hdr = image.sci_header
    reference = reference_point(image.wcs)
    if hdr.get("SRCXPOS") is not None and hdr.get("SRCYPOS") is not None:  # e.g. from targ_centroid
        return float(hdr["SRCXPOS"]) - reference[0], float(hdr["SRCYPOS"]) - reference[1]
    ra, dec = image.header.get("TARG_RA"), image.header.get("TARG_DEC")
    if ra is None or dec is None:
        raise ValueError("pathloss needs TARG_RA/TARG_DEC (or SRCXPOS/SRCYPOS) to place the source")
    return source_position(image.wcs, reference, (float(ra), float(dec)))


def run(image: ImageModel, refs: Mapping[str, RefData], params: Params = Params(), *,
        wavelength: np.ndarray | None = None) -> tuple[ImageModel, StepReport]:
    """Apply the LRS point-source pathloss in place (module docstring).

    Parameters
    ----------
    image : ImageModel
        MIR_LRS-FIXEDSLIT rate/rateints (any flux unit), SRCTYPE in its header, with its WCS.
    refs : mapping
        ``pathloss``: the PATHLOSS table and its header (``table_headers``).
    wavelength : ndarray, optional
        Wavelength map (um, NaN off the slit); computed from ``image.wcs`` when absent.
    """
    if params.skip:
        return image, skipped("skipped by parameter")
    if image.meta.exp_type != "MIR_LRS-FIXEDSLIT":
        raise NotImplementedStepError(f"pathloss for {image.meta.exp_type} is not implemented")
    if params.user_slit_loc is not None:
        raise NotImplementedStepError("pathloss user_slit_loc is not implemented")
    if str(image.header.get("SRCTYPE", "")).strip().upper() != "POINT":
        return image, skipped("not a point source: no LRS pathloss correction")
    ref = refs["pathloss"]
    table = ref.tables.get("PATHLOSS")
    if table is None:
        raise ReferenceFileError(f"pathloss reference {ref.name} has no PATHLOSS table")
    grid = grid_from_header(ref.table_headers.get("PATHLOSS", ref.header))
    vector = pathloss_vector(table["wavelength"], np.asarray(table["pathloss"]), grid, _position(image))
    if wavelength is None:
        wavelength = wavelength_map(image.wcs, image.data.shape)
    correction = interpolate_on_wavelengths(wavelength, vector)
    _apply(image, correction)
    image.pathloss_point = correction.astype(np.float32)
    where = "" if vector.inside else " (source off the map: slit centre used)"
    return image, StepReport(note=f"source at ({vector.position[0]:.3f}, {vector.position[1]:.3f}) px from "
                                  f"the aperture reference{where}")
