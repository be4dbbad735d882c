"""Source detection shared by tweakreg and source_catalog (jwst's ``make_tweakreg_catalog``).

A 2-D background and its rms (photutils ``Background2D``: 3-sigma clipped medians in
``bkg_boxsize`` boxes, 3x3 median filter), a threshold ``snr_threshold x rms`` above it, then
one of jwst's three finders on the background-subtracted image:

``iraf`` / ``dao``  photutils ``IRAFStarFinder`` / ``DAOStarFinder`` (threshold: the median of the
                    threshold image -- they take one number), sharpness and roundness limits,
                    the ``brightest`` N kept;
``segmentation``    photutils ``SourceFinder`` (convolution with a Gaussian of ``kernel_fwhm``,
                    ``npixels`` connected pixels, deblending) and ``SourceCatalog``.

Units are whatever the image is in (the threshold scales with it).  Pure functions of arrays.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
from astropy.convolution import Gaussian2DKernel, convolve
from astropy.stats import SigmaClip, gaussian_fwhm_to_sigma
from astropy.table import QTable
from astropy.utils.exceptions import AstropyUserWarning
from photutils import use_future_column_names
from photutils.background import Background2D, MedianBackground
from photutils.detection import DAOStarFinder, IRAFStarFinder
from photutils.segmentation import SegmentationImage, SourceCatalog, SourceFinder
from photutils.segmentation.catalog import DEFAULT_COLUMNS
from photutils.utils import NoDetectionsWarning

__all__ = ["FinderSettings", "finder_settings", "Background", "estimate_background", "convolve_fwhm", "find_stars", "detect",
           "find_segments", "segment_table", "STARFINDERS"]

STARFINDERS = ("iraf", "dao", "segmentation")
#: SourceCatalog columns kept (jwst's SOURCECAT_COLUMNS in photutils 3 names).
SEGMENT_COLUMNS = list(DEFAULT_COLUMNS) + ["ellipticity", "sky_bbox_ll", "sky_bbox_ul", "sky_bbox_lr",
                                           "sky_bbox_ur"]


@dataclass(frozen=True)
class FinderSettings:
    """jwst's finder parameters (names as the tweakreg/source_catalog step parameters)."""

    starfinder: str = "iraf"
    snr_threshold: float = 10.0
    kernel_fwhm: float = 2.5
    bkg_boxsize: int = 400
    sigma_radius: float = 1.5
    minsep_fwhm: float = 0.0
    sharplo: float = 0.5
    sharphi: float = 2.0
    roundlo: float = 0.0
    roundhi: float = 0.2
    brightest: int | None = 200
    peakmax: float | None = None
    npixels: int = 10
    connectivity: int = 8
    nlevels: int = 32
    contrast: float = 0.001
    multithresh_mode: str = "exponential"
    deblend: bool = True


def finder_settings(params, **fixed) -> FinderSettings:
    """The finder settings of a step's ``params``: every FinderSettings field the params have
    (by name), ``fixed`` values over them, defaults for the rest.

    >>> finder_settings(FinderSettings(snr_threshold=5.0), brightest=None).snr_threshold
    5.0
    """
    names = {f.name for f in dataclasses.fields(FinderSettings)}
    values = {k: getattr(params, k) for k in names if hasattr(params, k)}
    return FinderSettings(**{**values, **fixed})


@dataclass(frozen=True)
class Background:
    """``level`` and ``rms``: (ny, nx) float arrays in the image's unit."""

    level: np.ndarray
    rms: np.ndarray


def estimate_background(data: np.ndarray, box_size: int, coverage_mask: np.ndarray | None) -> Background:
    """2-D background of an image (jwst JWSTBackground).

    Parameters
    ----------
    data : ndarray, float, (ny, nx)
    box_size : int
        Mesh box, pixels; larger than the image, or meshes that cannot be estimated, fall back
        to one box covering the whole unmasked image (jwst does the same on ValueError).
    coverage_mask : ndarray of bool, (ny, nx), optional
        True where there is no data (NaN, zero weight, DO_NOT_USE).

    Returns
    -------
    Background
    """
    kwargs = dict(filter_size=(3, 3), coverage_mask=coverage_mask, sigma_clip=SigmaClip(sigma=3.0),
                  bkg_estimator=MedianBackground())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        try:
            if box_size > min(data.shape):
                raise ValueError("box larger than the image")
            bkg = Background2D(data, int(box_size), **kwargs)
        except ValueError:
            bkg = Background2D(data, data.shape, exclude_percentile=100.0, **kwargs)
    return Background(np.asarray(bkg.background), np.asarray(bkg.background_rms))


def convolve_fwhm(data: np.ndarray, fwhm: float, mask: np.ndarray | None) -> np.ndarray:
    """``data`` convolved with a normalised circular Gaussian of FWHM ``fwhm`` pixels (masked
    pixels interpolated over by astropy's convolve)."""
    if fwhm <= 0:
        return data
    kernel = Gaussian2DKernel(fwhm * gaussian_fwhm_to_sigma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        return convolve(data, kernel, mask=mask)


def _empty() -> QTable:
    return QTable(names=("id", "xcentroid", "ycentroid", "flux"), dtype=(int, float, float, float))


def find_stars(data: np.ndarray, threshold: float, settings: FinderSettings,
               mask: np.ndarray | None = None) -> QTable:
    """IRAF or DAO star finding on a background-subtracted image.

    Returns
    -------
    QTable
        ``id``, ``xcentroid``, ``ycentroid`` (0-based pixels), ``flux`` (image unit x pixels),
        plus the finder's other columns; brightest ``settings.brightest`` kept.
    """
    finder_cls = {"iraf": IRAFStarFinder, "dao": DAOStarFinder}[settings.starfinder]
    finder = finder_cls(float(threshold), settings.kernel_fwhm, sigma_radius=settings.sigma_radius,
                        min_separation=max(2, int(settings.minsep_fwhm * settings.kernel_fwhm + 0.5)),
                        sharpness_range=(settings.sharplo, settings.sharphi),
                        roundness_range=(settings.roundlo, settings.roundhi),
                        n_brightest=settings.brightest, peak_max=settings.peakmax)
    with warnings.catch_warnings(), use_future_column_names():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        table = finder(data, mask=mask)
    if table is None or len(table) == 0:
        return _empty()
    table = QTable(table)  # a plain table: photutils 3 wraps results to map deprecated names
    table.rename_columns(["x_centroid", "y_centroid"], ["xcentroid", "ycentroid"])
    return table


def find_segments(data: np.ndarray, convolved: np.ndarray, threshold: np.ndarray, settings: FinderSettings,
                  mask: np.ndarray | None = None) -> SegmentationImage | None:
    """Segmentation (+ deblending) of a background-subtracted, convolved image; None when
    nothing exceeds the threshold over ``npixels`` connected pixels."""
    finder = SourceFinder(settings.npixels, connectivity=int(settings.connectivity), deblend=settings.deblend,
                          n_levels=settings.nlevels, contrast=settings.contrast,
                          mode=settings.multithresh_mode, relabel=True, progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        warnings.simplefilter("ignore", AstropyUserWarning)
        return finder(convolved, threshold, mask=mask)


def segment_table(data: np.ndarray, segm: SegmentationImage, convolved: np.ndarray, *,
                  error: np.ndarray | None = None, mask: np.ndarray | None = None, wcs=None,
                  brightest: int | None = None, **catalog_kwargs) -> QTable:
    """photutils SourceCatalog of a segmentation as a table with jwst's tweakreg column names
    (``id``, ``xcentroid``, ``ycentroid``, ``flux`` = segment flux) plus the SourceCatalog
    default columns, ``ellipticity`` and (with a ``wcs``) the sky bounding-box corners; the
    ``brightest`` N by segment flux kept when given."""
    cat = SourceCatalog(data, segm, convolved_data=convolved, error=error, mask=mask, wcs=wcs,
                        **catalog_kwargs)
    with use_future_column_names():
        table = QTable(cat.to_table(columns=SEGMENT_COLUMNS if wcs is not None else SEGMENT_COLUMNS[:-4]))
    table.rename_columns(["label", "x_centroid", "y_centroid", "segment_flux"],
                         ["id", "xcentroid", "ycentroid", "flux"])
    if brightest is not None and len(table) > brightest:
        order = np.argsort(-np.nan_to_num(np.asarray(table["flux"], float), nan=-np.inf))
        table = table[np.sort(order[:brightest])]
    return table


def detect(data: np.ndarray, settings: FinderSettings, coverage_mask: np.ndarray | None = None,
           error: np.ndarray | None = None) -> QTable:
    """Point-like sources of one image for alignment (jwst make_tweakreg_catalog): background,
    threshold, the chosen finder.  Empty table (same columns) when nothing is found.

    Parameters
    ----------
    data : ndarray, float, (ny, nx)
        Image (any surface-brightness or rate unit); NaN pixels are masked.
    settings : FinderSettings
    coverage_mask : ndarray of bool, optional
        True where there is no usable data.
    error : ndarray, optional
        1-sigma per pixel, used by the segmentation catalog only.
    """
    if settings.starfinder not in STARFINDERS:
        raise ValueError(f"starfinder must be one of {STARFINDERS}, got {settings.starfinder!r}")
    mask = ~np.isfinite(data) if coverage_mask is None else (coverage_mask | ~np.isfinite(data))
    if mask.all():
        return _empty()
    bkg = estimate_background(np.where(mask, 0.0, data), settings.bkg_boxsize, mask)
    sub = np.where(mask, 0.0, data - bkg.level)
    threshold = settings.snr_threshold * bkg.rms
    if settings.starfinder != "segmentation":
        return find_stars(sub, float(np.median(threshold)), settings, mask)
    convolved = convolve_fwhm(sub, settings.kernel_fwhm, mask)
    segm = find_segments(sub, convolved, threshold, settings, mask)
    if segm is None:
        return _empty()
    return segment_table(sub, segm, convolved, error=error, mask=mask, brightest=settings.brightest)
