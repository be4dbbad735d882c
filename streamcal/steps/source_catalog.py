"""source_catalog (APCORR, ABVEGAOFFSET): sources, photometry and shapes of a mosaic (``i2d``).

jwst_spec §5.1.  On the ``i2d`` (SCI and ERR in MJy/sr, WHT, gwcs):

1. Jy per pixel: SCI and ERR x 1e6 x PIXAR_SR (the output pixel's solid angle, sr).
2. Detection (:mod:`streamcal.steps._sources`): Background2D (``bkg_boxsize``), threshold
   ``snr_threshold`` x background rms, Gaussian kernel of ``kernel_fwhm``, photutils SourceFinder
   (``npixels``, deblending ``nlevels``/``contrast``) -> the segmentation map; pixels with NaN ERR
   or zero WHT are not covered.  photutils SourceCatalog gives centroids, isophotal flux/area and
   shape moments.
3. Circular apertures holding ``aperture_ee1/2/3`` % of a point source's energy (radii from
   APCORR, divided by the resampling pixel-scale ratio PXSCLRT), each minus the local background
   (3-sigma clipped median in the APCORR sky annulus, per pixel, x aperture area); the total flux
   is the largest aperture's x its APCORR factor (meaningful for point sources).
4. AB magnitude ``-2.5 log10(F / 3631 Jy)``, error ``2.5 log10(1 + dF/F)`` (NaN for F < 0);
   Vega = AB - ABVEGAOFFSET.
5. Concentration indices (flux ratios of the apertures); ``is_extended`` when CI(ee2/ee1) >
   ``ci1_star_threshold`` and CI(ee3/ee2) > ``ci2_star_threshold``; DAOFind sharpness and
   roundness with the ``kernel_fwhm`` kernel; nearest neighbour label and distance (pixels).

Units: fluxes Jy, magnitudes mag, positions 0-based pixels, angles deg (``orientation`` CCW
from +x, ``sky_orientation`` east of north), areas pixel^2.  The mosaic is not modified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import astropy.units as u
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.table import QTable

from ..errors import NotImplementedStepError, ReferenceFileError
from ..models import ExposureMeta, MosaicModel
from ..refs.model import RefData
from . import _photometry as phot
from ._sources import (FinderSettings, convolve_fwhm, finder_settings, estimate_background, find_segments,
                       segment_table)
from .base import StepParams, StepReport, skipped

__all__ = ["NAME", "STATUS_KEYWORD", "REFTYPES", "Params", "CatalogResult", "ApertureParams",
           "aperture_params", "abvega_offset", "catalog_meta", "pixel_area_sr", "source_catalog", "run"]

NAME = "source_catalog"
#: jwst records no cal_step for source_catalog; streamcal writes S_SRCCAT in its provenance.
STATUS_KEYWORD = "S_SRCCAT"
REFTYPES = ("apcorr", "abvegaoffset")
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """jwst SourceCatalogStep parameters (segmentation finder only; see :data:`NOT_SUPPORTED`)."""

    aperture_ee1: int = 30
    aperture_ee2: int = 50
    aperture_ee3: int = 70
    ci1_star_threshold: float = 2.0
    ci2_star_threshold: float = 1.8
    starfinder: str = "segmentation"
    snr_threshold: float = 3.0
    bkg_boxsize: int = 1000
    kernel_fwhm: float = 2.0
    npixels: int = 25
    connectivity: int = 8
    nlevels: int = 32
    contrast: float = 0.001
    multithresh_mode: str = "exponential"
    localbkg_width: int = 0
    apermask_method: str = "correct"
    deblend: bool = True

    def __post_init__(self):
        ee = (self.aperture_ee1, self.aperture_ee2, self.aperture_ee3)
        if not all(0 < e < 100 for e in ee) or not ee[0] < ee[1] < ee[2]:
            raise ValueError(f"aperture_ee1/2/3 must be strictly increasing percentages, got {ee}")

    def finder(self) -> FinderSettings:
        return finder_settings(self, brightest=None)  # a catalog keeps every source


@dataclass(frozen=True)
class ApertureParams:
    """Aperture photometry set-up from APCORR, in the mosaic's pixels.

    ``ee`` (3,) int percent; ``radii`` (3,) pixels; ``apcorr`` (3,) total / aperture flux;
    ``skyin``, ``skyout`` background annulus radii, pixels.
    """

    ee: tuple[int, int, int]
    radii: tuple[float, float, float]
    apcorr: tuple[float, float, float]
    skyin: float
    skyout: float


@dataclass
class CatalogResult:
    """What source_catalog makes.

    ``catalog``: the ``_cat.ecsv`` table (jwst columns, with units; empty when nothing was
    found); ``segm``: (ny, nx) int32 label map, 0 = background (None when nothing was found);
    ``meta``: aperture parameters and AB-Vega offset, also in ``catalog.meta``.
    """

    catalog: QTable
    segm: np.ndarray | None
    meta: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------- references

def _header_value(mosaic: MosaicModel, key: str, default=None):
    for header in (mosaic.sci_header, mosaic.header):
        value = header.get(key)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return value
    return default


def catalog_meta(mosaic: MosaicModel) -> ExposureMeta:
    """The exposure keys reference selection needs, from a mosaic's headers (the i2d carries
    the first member's INSTRUME/DETECTOR/FILTER/PUPIL/SUBARRAY); what a mosaic lacks
    (NINTS ...) is filled with neutral values.  A detector the synthetic set does not know
    (``MULTIPLE``) becomes the instrument's first imager detector of the right channel."""
    from ..detectors import DETECTORS
    header = fits.Header()
    for key in ("INSTRUME", "DETECTOR", "EXP_TYPE", "FILTER", "PUPIL", "SUBARRAY", "DATE-OBS",
                "TIME-OBS", "DATE-BEG", "READPATT"):
        value = _header_value(mosaic, key)
        if value is not None:
            header[key] = value
    for key, value in (("NINTS", 1), ("NGROUPS", 1), ("NFRAMES", 1), ("GROUPGAP", 0), ("TFRAME", 1.0),
                       ("TGROUP", 1.0), ("EXP_TYPE", "UNKNOWN"), ("DETECTOR", "MULTIPLE")):
        header.setdefault(key, value)
    meta = ExposureMeta.from_header(header)
    if meta.detector not in DETECTORS:
        meta = _replace_detector(meta, DETECTORS)
    return meta


def _replace_detector(meta: ExposureMeta, detectors) -> ExposureMeta:
    from dataclasses import replace

    from ..detectors import filter_wavelength_um

    candidates = [d for d in detectors.values() if d.instrument == meta.instrument]
    if meta.instrument == "NIRCAM":
        channel = "LONG" if filter_wavelength_um(meta.filter, "NIRCAM") > 2.4 else "SHORT"
        candidates = [d for d in candidates if d.channel == channel]
    return replace(meta, detector=candidates[0].name) if candidates else meta


def _rows(table: np.ndarray, selector: Mapping[str, str], what: str) -> np.ndarray:
    keep = np.ones(len(table), bool)
    names = {n.lower(): n for n in table.dtype.names}
    for key, value in selector.items():
        if key not in names:
            raise ReferenceFileError(f"{what} table has no column {key!r}")
        keep &= np.char.upper(np.char.strip(table[names[key]].astype(str))) == value.upper()
    if not keep.any():
        raise ReferenceFileError(f"{what} has no row for {dict(selector)}")
    return table[keep]


def _table(ref: RefData, extname: str) -> np.ndarray:
    """A reference table from a FITS extension, or from an ASDF tree (jwst ABVEGAOFFSET)."""
    if extname in ref.tables:
        return ref.tables[extname]
    tree = ref.tree or {}
    key = extname.lower()
    if key in tree:
        return np.asarray(QTable(tree[key]).as_array())
    raise ReferenceFileError(f"{ref.path}: no {extname} table")


def _selector(meta: ExposureMeta, *, for_apcorr: bool) -> dict[str, str]:
    if meta.instrument in ("NIRCAM", "NIRISS"):
        return {"filter": meta.filter, "pupil": meta.pupil}
    if meta.instrument == "MIRI":
        return {"filter": meta.filter, "subarray": meta.subarray} if for_apcorr else {"filter": meta.filter}
    if meta.instrument == "FGS":
        return {} if for_apcorr else {"detector": meta.detector}
    raise NotImplementedStepError(f"source_catalog: no imaging photometry for {meta.instrument}")


def aperture_params(apcorr: RefData, meta: ExposureMeta, ee: tuple[int, int, int],
                    pixel_scale_ratio: float = 1.0) -> ApertureParams:
    """Radii, corrections and sky annulus for three EE percentages (jwst ReferenceData rules:
    rows by filter/pupil, MIRI filter/subarray, FGS all; EE rows matched to the percent).

    Raises
    ------
    ReferenceFileError
        No row for the optical element or an EE value, or several sky annuli.
    """
    rows = _rows(_table(apcorr, "APCORR"), _selector(meta, for_apcorr=True), f"APCORR {apcorr.name}")
    names = {n.lower(): n for n in rows.dtype.names}
    percent = np.round(rows[names["eefraction"]].astype(float) * 100).astype(int)
    picked = []
    for value in ee:
        hit = rows[percent == value]
        if len(hit) != 1:
            raise ReferenceFileError(f"APCORR {apcorr.name}: {len(hit)} rows for EE {value}%")
        picked.append(hit[0])
    skyin = {float(r[names["skyin"]]) for r in picked}
    skyout = {float(r[names["skyout"]]) for r in picked}
    if len(skyin) != 1 or len(skyout) != 1:
        raise ReferenceFileError(f"APCORR {apcorr.name}: several sky annuli for {meta.filter}")
    s = float(pixel_scale_ratio)
    return ApertureParams(ee=tuple(int(v) for v in ee),
                          radii=tuple(float(r[names["radius"]]) / s for r in picked),
                          apcorr=tuple(float(r[names["apcorr"]]) for r in picked),
                          skyin=skyin.pop() / s, skyout=skyout.pop() / s)


def abvega_offset(ref: RefData, meta: ExposureMeta) -> float:
    """m_AB - m_Vega for the mosaic's optical element (jwst selection rules)."""
    rows = _rows(_table(ref, "ABVEGA_OFFSET"), _selector(meta, for_apcorr=False), f"ABVEGAOFFSET {ref.name}")
    if len(rows) != 1:
        raise ReferenceFileError(f"ABVEGAOFFSET {ref.name}: {len(rows)} rows for {meta.filter}")
    names = {n.lower(): n for n in rows.dtype.names}
    return float(rows[0][names["abvega_offset"]])


def pixel_area_sr(mosaic: MosaicModel) -> float:
    """Solid angle of one mosaic pixel, sr: PIXAR_SR, else from the WCS at the image centre
    (the area of the parallelogram spanned by one-pixel steps)."""
    value = _header_value(mosaic, "PIXAR_SR")
    if value is not None:
        return float(value)
    ny, nx = mosaic.data.shape
    x0, y0 = (nx - 1) / 2.0, (ny - 1) / 2.0
    c = mosaic.wcs.pixel_to_world([x0, x0 + 1, x0], [y0, y0, y0 + 1])
    dx, dy = c[0].spherical_offsets_to(c[1]), c[0].spherical_offsets_to(c[2])
    ax, ay = [v.to_value(u.rad) for v in dx], [v.to_value(u.rad) for v in dy]
    return abs(ax[0] * ay[1] - ax[1] * ay[0])


# ---------------------------------------------------------------------------------- core

def source_catalog(mosaic: MosaicModel, apertures: ApertureParams, abvega: float, params: Params) -> CatalogResult:
    """Detect and measure the sources of a mosaic.

    Parameters
    ----------
    mosaic : MosaicModel
        ``data``, ``err`` (ny, nx) float32 MJy/sr; ``wht`` (ny, nx); ``wcs`` gwcs.
    apertures : ApertureParams
        From :func:`aperture_params`.
    abvega : float
        m_AB - m_Vega, mag.
    params : Params

    Returns
    -------
    CatalogResult
    """
    if params.starfinder != "segmentation":
        raise NotImplementedStepError(
            f"source_catalog starfinder={params.starfinder!r}: only 'segmentation' is implemented "
            "(the jwst default; dao/iraf catalogs lack the segment columns)")
    if mosaic.bunit.strip() != "MJy/sr":
        raise ValueError(f"source_catalog needs a mosaic in MJy/sr, got {mosaic.bunit!r}")
    to_jy = 1e6 * pixel_area_sr(mosaic)
    data = np.asarray(mosaic.data, np.float64) * to_jy
    err = np.asarray(mosaic.err, np.float64) * to_jy
    mask = ~np.isfinite(err) | ~np.isfinite(data) | (np.asarray(mosaic.wht) <= 0)
    meta = {"aperture_params": apertures.__dict__, "abvega_offset": abvega, "jy_per_pixel_unit": to_jy}
    if mask.all():
        return CatalogResult(phot.empty_catalog(apertures.ee), None, meta)
    data = np.where(mask, 0.0, data)
    err = np.where(mask, 0.0, err)
    settings = params.finder()
    bkg = estimate_background(data, settings.bkg_boxsize, mask)
    sub = np.where(mask, 0.0, data - bkg.level)
    convolved = convolve_fwhm(sub, settings.kernel_fwhm, mask)
    segm = find_segments(sub, convolved, settings.snr_threshold * bkg.rms, settings, mask)
    if segm is None:
        return CatalogResult(phot.empty_catalog(apertures.ee), None, meta)
    seg_table = segment_table(sub, segm, convolved, error=err, mask=mask, wcs=mosaic.wcs,
                              local_bkg_width=params.localbkg_width,
                              aperture_mask_method=params.apermask_method)
    catalog = phot.build_catalog(seg_table, data, err, mask, mosaic.wcs, apertures, abvega, params)
    catalog.meta.update(meta)
    return CatalogResult(catalog, np.asarray(segm.data, np.int32), meta)


def run(model: MosaicModel, refs: Mapping[str, RefData], params: Params) -> tuple[CatalogResult | None, StepReport]:
    """Adapter: the catalog of a mosaic with its APCORR and ABVEGAOFFSET references.

    Returns ``(CatalogResult, report)``; the mosaic itself is unchanged.  ``(None, SKIPPED)``
    when skipped by parameter.
    """
    if params.skip:
        return None, skipped("skipped by parameter")
    meta = catalog_meta(model)
    ratio = float(_header_value(model, "PXSCLRT", 1.0) or 1.0)
    ee = (params.aperture_ee1, params.aperture_ee2, params.aperture_ee3)
    apertures = aperture_params(refs["apcorr"], meta, ee, ratio)
    result = source_catalog(model, apertures, abvega_offset(refs["abvegaoffset"], meta), params)
    n = len(result.catalog)
    note = f"{n} sources" if n else "no sources found: empty catalog"
    return result, StepReport(status="COMPLETE", note=note, keywords={})


def sky_coords(catalog: QTable) -> tuple[np.ndarray, np.ndarray]:
    """(ra, dec) deg of a catalog's ``sky_centroid`` column (NaN where missing)."""
    col = catalog["sky_centroid"]
    if isinstance(col, SkyCoord):
        return np.asarray(col.ra.deg, float), np.asarray(col.dec.deg, float)
    return np.full(len(catalog), math.nan), np.full(len(catalog), math.nan)
