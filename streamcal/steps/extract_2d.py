"""extract_2d for the grism modes (jwst 3.0 ``Extract2dStep``, NRC_WFSS / NIS_WFSS / NRC_TSGRISM):
the 2-D cutouts that hold each source's spectral trace.

WFSS (one cutout per catalog source and extraction order)::

    catalog source (sky centroid, sky corners of its segment bounding box, AB magnitude)
      -> direct-image pixel of the centroid (the exposure's imaging WCS, inverted)
      -> dispersed positions of the 4 corners at the order's lmin and lmax (WAVELENGTHRANGE)
      -> box = their min/max; for point sources the cross-dispersion extent is replaced by
         +-``wfss_extract_half_height`` about the trace at (lmin + lmax) / 2
      -> corners rounded to pixel indices (floor(v + 0.5)); orders fully off the detector
         dropped; sources fainter than ``wfss_mmag_extract`` dropped; the ``wfss_nbright``
         brightest kept; boxes clamped to the image.

TSGRISM (one cutout): all columns, rows 0 .. ``tsgrism_extract_height`` - 1 (default: the
subarray height) -- jwst 3.0 places the source at cutout row 34 by construction, which makes
the row range independent of YREF_SCI.

Pixel indices are 0-based here; ``xstart``/``ystart`` of the jwst SlitModel are these + 1.
Wavelengths of a cutout are the grism WCS's at each cutout pixel for the source position
(NaN where the dispersion model gives none).  Nothing here reads files: the caller passes the
catalog table and the wavelength ranges.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from gwcs import WCS

from .base import StepParams

__all__ = ["Params", "CatalogSource", "GrismBox", "Cutout", "catalog_sources", "wavelength_ranges", "wfss_cutouts",
           "extract_orders_for", "wfss_boxes", "tsgrism_box", "cutout", "tsgrism_cutout", "to_index"]

NAME = "extract_2d"
REFTYPES: tuple[str, ...] = ("wavelengthrange",)


@dataclass(frozen=True)
class Params(StepParams):
    """jwst 3.0 Extract2dStep parameters of the grism modes.

    Attributes
    ----------
    extract_orders : tuple of int, optional
        Orders to extract (None: WAVELENGTHRANGE ``extract_orders`` for the filter).
    wfss_extract_half_height : int, optional
        Cross-dispersion half height (pixels) of point-source boxes (jwst default 5; None:
        the segment bounding box for point sources too).
    wfss_mmag_extract : float, optional
        Sources with isophotal AB magnitude >= this are not extracted (None: all).
    wfss_nbright : int
        The number of brightest sources extracted (jwst default 1000).
    tsgrism_extract_height : int, optional
        TSGRISM cutout height in rows (None: the subarray height, jwst 3.0's default).
    """

    extract_orders: tuple[int, ...] | None = None
    wfss_extract_half_height: int | None = 5
    wfss_mmag_extract: float | None = None
    wfss_nbright: int = 1000
    tsgrism_extract_height: int | None = None


@dataclass(frozen=True)
class CatalogSource:
    """One row of a direct image's source catalog (jwst's ``_cat.ecsv`` columns).

    Attributes
    ----------
    source_id : int
        ``label``.
    ra, dec : float
        ``sky_centroid`` (deg).
    corners_ra, corners_dec : tuple of 4 float
        ``sky_bbox_ll``, ``sky_bbox_lr``, ``sky_bbox_ul``, ``sky_bbox_ur`` (deg).
    abmag : float
        ``isophotal_abmag`` (NaN when unknown; such sources sort last).
    is_extended : bool
    """

    source_id: int
    ra: float
    dec: float
    corners_ra: tuple[float, float, float, float]
    corners_dec: tuple[float, float, float, float]
    abmag: float
    is_extended: bool


@dataclass(frozen=True)
class GrismBox:
    """The extraction box of one source and order, before clamping to the image.

    Attributes
    ----------
    source : CatalogSource
    order : int
    xmin, xmax, ymin, ymax : int
        Inclusive pixel indices (0-based, full frame; may lie off the image).
    xcentroid, ycentroid : float
        Direct-image pixel of the source centroid.
    waverange : (float, float)
        lmin, lmax (um).
    partial : bool
        Part of the box lies off the image.
    """

    source: CatalogSource
    order: int
    xmin: int
    xmax: int
    ymin: int
    ymax: int
    xcentroid: float
    ycentroid: float
    waverange: tuple[float, float]
    partial: bool


@dataclass(frozen=True)
class Cutout:
    """One extracted 2-D spectrum (what becomes a jwst SlitModel).

    Attributes
    ----------
    source_id, order : int
    xstart, ystart : int
        0-based image pixel of the cutout's first column and row (jwst SlitModel xstart/ystart
        are these + 1).
    shape : (ny, nx)
    source_xpos, source_ypos : float
        Direct-image source position (pixels; for TSGRISM jwst records row 34).
    source_ra, source_dec : float
        Deg (NaN for TSGRISM: the target's coordinates come from the header).
    is_extended : bool
    wavelength : ndarray
        Wavelength (um) of every cutout pixel, shape ``shape``.
    """

    source_id: int
    order: int
    xstart: int
    ystart: int
    shape: tuple[int, int]
    source_xpos: float
    source_ypos: float
    source_ra: float
    source_dec: float
    is_extended: bool
    wavelength: np.ndarray

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) of the cutout in the image."""
        return (slice(self.ystart, self.ystart + self.shape[0]), slice(self.xstart, self.xstart + self.shape[1]))


def to_index(value) -> np.ndarray | int:
    """Nearest pixel index, halves rounded up (gwcs ``to_index``: floor(v + 0.5))."""
    out = np.floor(np.asarray(value, dtype=float) + 0.5).astype(int)
    return int(out) if out.ndim == 0 else out


def _coord(row, name: str) -> tuple[float, float]:
    value = row[name]
    if hasattr(value, "ra"):
        return float(value.ra.deg), float(value.dec.deg)
    return float(row[f"{name}.ra"]), float(row[f"{name}.dec"])


def catalog_sources(table) -> list[CatalogSource]:
    """The sources of a catalog table (astropy Table/QTable with jwst's column names: label,
    sky_centroid, sky_bbox_ll/lr/ul/ur as SkyCoord columns or their ``.ra``/``.dec``
    columns, isophotal_abmag, is_extended).

    Raises
    ------
    KeyError
        A required column is missing.
    """
    names = set(table.colnames)
    for need in ("label", "isophotal_abmag", "is_extended"):
        if need not in names:
            raise KeyError(f"source catalog lacks column {need!r}")
    out = []
    for row in table:
        corners = [_coord(row, f"sky_bbox_{c}") for c in ("ll", "lr", "ul", "ur")]
        ra, dec = _coord(row, "sky_centroid")
        mag = row["isophotal_abmag"]
        mag = float(getattr(mag, "value", mag)) if mag is not None and not np.ma.is_masked(mag) else np.nan
        out.append(CatalogSource(int(row["label"]), ra, dec, tuple(c[0] for c in corners),
                                 tuple(c[1] for c in corners), mag, bool(row["is_extended"])))
    return out


def extract_orders_for(tree: Mapping, band: str) -> tuple[int, ...]:
    """The default orders of a WAVELENGTHRANGE tree for ``band`` (NIRCam FILTER, NIRISS PUPIL).

    Raises
    ------
    ValueError
        The file lists no orders for the band.
    """
    for entry in tree.get("extract_orders") or []:
        if entry[0] == band:
            return tuple(int(o) for o in entry[1])
    raise ValueError(f"WAVELENGTHRANGE has no extract_orders for {band}")


def wavelength_ranges(tree: Mapping, band: str, orders: Sequence[int]) -> dict[int, tuple[float, float]]:
    """{order: (lmin, lmax)} um of a WAVELENGTHRANGE tree for ``band``: WFSS rows
    ``[order, band, lmin, lmax]`` or TSGRISM rows ``[order, field point, band, lmin, lmax]``
    (the first row that matches).

    Raises
    ------
    ValueError
        An order has no row for the band.
    """
    out = {}
    for order in orders:
        for row in tree.get("wavelengthrange") or []:
            if int(row[0]) == int(order) and row[-3] == band:
                out[int(order)] = (float(row[-2]), float(row[-1]))
                break
        else:
            raise ValueError(f"WAVELENGTHRANGE has no range for order {order}, {band}")
    return out


def _on_detector(box: tuple[int, int, int, int], shape: tuple[int, int], dispaxis: int) -> tuple[bool, bool]:
    """(kept, partial) as jwst decides: along the dispersion the box must overlap the image
    by more than its edge pixel, across it by at least one pixel."""
    ymin, ymax, xmin, xmax = box
    hi = (shape[0] - 1, shape[1] - 1)
    lo_pts, hi_pts = (ymin, xmin), (ymax, xmax)
    disp, xdisp = (1, 0) if dispaxis == 1 else (0, 1)
    kept = (hi_pts[disp] > 0 and hi[disp] - lo_pts[disp] > 0
            and hi_pts[xdisp] >= 0 and hi[xdisp] - lo_pts[xdisp] >= 0)
    inside = all(0 <= p[k] <= hi[k] for p in (lo_pts, hi_pts) for k in (0, 1))
    return kept, kept and not inside


def wfss_boxes(wcs: WCS, sources: Sequence[CatalogSource], ranges: Mapping[int, tuple[float, float]], *,
               shape: tuple[int, int], dispaxis: int, params: Params = Params()) -> list[GrismBox]:
    """The WFSS extraction boxes, brightest source first (see the module description).

    Parameters
    ----------
    wcs : gwcs.WCS
        The grism exposure's WCS (:func:`streamcal.wcs.grism.grism_wcs`, or jwst's).
    sources : sequence of CatalogSource
    ranges : {order: (lmin, lmax)}
        Wavelength range (um) per extraction order.
    shape : (ny, nx)
        Image shape.
    dispaxis : int
        1 (rows) or 2 (columns).
    """
    if dispaxis not in (1, 2):
        raise ValueError(f"dispaxis must be 1 or 2, got {dispaxis}")
    to_direct = wcs.get_transform("world", "detector")
    to_grism = wcs.backward_transform
    mmag = np.inf if params.wfss_mmag_extract is None else params.wfss_mmag_extract
    per_source = []
    for src in sources:
        if src.abmag >= mmag:
            continue
        xc, yc, *_ = to_direct(src.ra, src.dec, 1, 1)
        boxes = [b for b in (_order_box(to_grism, src, order, lims, float(xc), float(yc), shape, dispaxis, params)
                             for order, lims in ranges.items()) if b is not None]
        if boxes:
            per_source.append(boxes)
    # brightest first (stable, NaN magnitudes last), as jwst's argsort
    order_ = np.argsort([b[0].source.abmag for b in per_source], kind="stable")
    return [box for i in order_[:params.wfss_nbright] for box in per_source[i]]


def _order_box(to_grism, src: CatalogSource, order: int, lims: tuple[float, float], xc: float, yc: float,
               shape: tuple[int, int], dispaxis: int, params: Params) -> GrismBox | None:
    lmin, lmax = lims
    ra, dec = np.array(src.corners_ra), np.array(src.corners_dec)
    x1, y1, *_ = to_grism(ra, dec, lmin, order)
    x2, y2, *_ = to_grism(ra, dec, lmax, order)
    xs, ys = np.hstack([np.ravel(x1), np.ravel(x2)]), np.hstack([np.ravel(y1), np.ravel(y2)])
    xmin, xmax, ymin, ymax = np.nanmin(xs), np.nanmax(xs), np.nanmin(ys), np.nanmax(ys)
    half = params.wfss_extract_half_height
    if half is not None and not src.is_extended:
        cx, cy, *_ = to_grism(src.ra, src.dec, (lmin + lmax) / 2, order)
        if dispaxis == 2:
            xmin, xmax = float(np.ravel(cx)[0]) - half, float(np.ravel(cx)[0]) + half
        else:
            ymin, ymax = float(np.ravel(cy)[0]) - half, float(np.ravel(cy)[0]) + half
    box = (to_index(ymin), to_index(ymax), to_index(xmin), to_index(xmax))
    kept, partial = _on_detector(box, shape, dispaxis)
    if not kept:
        return None
    return GrismBox(src, int(order), box[2], box[3], box[0], box[1], xc, yc, (lmin, lmax), partial)


def _clamped(box: GrismBox, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """(ymin, ymax, xmin, xmax) inclusive, within the image; None when jwst would drop it
    (zero extent after clamping to [0, size] -- jwst's clamp allows the index one past the
    edge, which slicing then trims)."""
    ny, nx = shape
    ymin, ymax = min(max(box.ymin, 0), ny), min(max(box.ymax, 0), ny)
    xmin, xmax = min(max(box.xmin, 0), nx), min(max(box.xmax, 0), nx)
    if ymax - ymin <= 0 or xmax - xmin <= 0:
        return None
    return ymin, min(ymax, ny - 1), xmin, min(xmax, nx - 1)


def cutout(wcs: WCS, box: GrismBox, shape: tuple[int, int]) -> Cutout | None:
    """The WFSS cutout of one box (None when it has no extent on the image), with the
    wavelength of every pixel from ``wcs`` for the box's source position."""
    lim = _clamped(box, shape)
    if lim is None:
        return None
    ymin, ymax, xmin, xmax = lim
    yy, xx = np.mgrid[ymin:ymax + 1, xmin:xmax + 1].astype(float)
    to_direct = wcs.get_transform("grism_detector", "detector")
    lam = np.empty(xx.shape)
    for r in range(xx.shape[0]):
        # one row at a time: the dispersion models take a scalar source position
        n = xx.shape[1]
        lam[r] = np.ravel(to_direct(xx[r], yy[r], np.full(n, box.xcentroid), np.full(n, box.ycentroid),
                                    np.full(n, box.order))[2])
    s = box.source
    return Cutout(s.source_id, box.order, xmin, ymin, xx.shape, float(box.xcentroid), float(box.ycentroid),
                  s.ra, s.dec, s.is_extended, lam)


def tsgrism_box(shape: tuple[int, int], height: int | None = None) -> tuple[int, int]:
    """(first row, last row) (0-based, inclusive) of the NRC_TSGRISM cutout of an image of
    ``shape`` (ny, nx); all columns are kept.

    jwst 3.0 centres the box so that the source lands on cutout row 34 with 34 rows below it;
    since it first moves the centre to row 34 itself, the rows are 0 .. height - 1 for any
    height from 2 up (clamped to the image), and 0 .. 34 for heights 0 and 1.
    """
    ny = shape[0]
    height = ny if height is None else int(height)
    if height < 0:
        raise ValueError(f"tsgrism_extract_height must be >= 0, got {height}")
    half = int(height / 2)
    # jwst: centre row 34, 34 rows below it (or from row 0 when the box would start below 0);
    # both give rows 0 .. height - 1, except for half == 0 (rows 0 .. 34)
    hi = 34 + half if half == 0 else height - 1
    return 0, min(hi, ny)


def tsgrism_cutout(wcs: WCS, shape: tuple[int, int], order: int, source_xpos: float,
                   height: int | None = None) -> Cutout:
    """The NRC_TSGRISM cutout: rows of :func:`tsgrism_box`, every column, wavelengths from the
    exposure's WCS (inputs x, y, order); ``source_xpos`` is recorded as is."""
    lo, hi = tsgrism_box(shape, height)
    hi = min(hi, shape[0] - 1)
    yy, xx = np.mgrid[lo:hi + 1, 0:shape[1]].astype(float)
    lam = np.asarray(wcs(xx, yy, np.full(xx.shape, order))[2], dtype=float).reshape(xx.shape)
    return Cutout(1, int(order), 0, lo, xx.shape, float(source_xpos), 34.0, np.nan, np.nan, False, lam)


def wfss_cutouts(wcs: WCS, catalog, wavelengthrange: Mapping, *, band: str, shape: tuple[int, int],
                 dispaxis: int, params: Params = Params()) -> list[Cutout]:
    """All WFSS cutouts of an exposure, in jwst's order (brightest source first, then order).

    Parameters
    ----------
    wcs : gwcs.WCS
        The grism exposure's WCS.
    catalog : astropy Table
        The direct image's source catalog (jwst columns, :func:`catalog_sources`).
    wavelengthrange : mapping
        The WAVELENGTHRANGE tree.
    band : str
        NIRCam FILTER / NIRISS PUPIL.
    shape : (ny, nx)
    dispaxis : int
    params : Params

    Raises
    ------
    ValueError
        No ranges for the band/orders, or no cutout at all (jwst fails the same way).
    """
    orders = params.extract_orders or extract_orders_for(wavelengthrange, band)
    ranges = wavelength_ranges(wavelengthrange, band, orders)
    boxes = wfss_boxes(wcs, catalog_sources(catalog), ranges, shape=shape, dispaxis=dispaxis, params=params)
    if not boxes:
        raise ValueError("no grism objects: no catalog source has a trace on the image")
    return [c for c in (cutout(wcs, b, shape) for b in boxes) if c is not None]
