"""The columns of the jwst ``_cat.ecsv`` from a segmentation table and the image (source_catalog).

Pure functions on arrays in Jy per pixel.  Formulas (jwst_spec §5.1, jwst JWSTSourceCatalog):

- local background: 3-sigma clipped median of the annulus pixels (centre-in-annulus), its
  error the standard error of a median ``sqrt(pi / 2N) x std``;
- aperture flux: exact-overlap circular aperture sum minus background x aperture area, error
  from ERR in quadrature (photutils ``aperture_photometry``);
- DAOFind sharpness/roundness with a zero-sum Gaussian kernel of ``kernel_fwhm`` truncated at
  radius max(2, 1.5 sigma), on cutouts centred on the nearest pixel.
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
from astropy.convolution import Gaussian2DKernel
from astropy.stats import SigmaClip, gaussian_fwhm_to_sigma
from astropy.table import QTable
from photutils.aperture import CircularAnnulus, CircularAperture, aperture_photometry
from scipy import ndimage
from scipy.spatial import KDTree

AB_ZERO_POINT = 8.9  # -2.5 log10(3631 Jy / 1 Jy): m_AB = -2.5 log10(F / Jy) + 8.9

__all__ = ["build_catalog", "empty_catalog", "flux_to_abmag", "local_background", "aperture_fluxes",
           "daofind_stats", "nearest_neighbours", "column_names"]


def column_names(ee: tuple[int, int, int]) -> list[str]:
    """The catalog's columns in jwst's order."""
    def block(kind):
        names = []
        for e in ee:
            names += [f"aper{e}_{kind}", f"aper{e}_{kind}_err"]
        return names + [f"aper_total_{kind}", f"aper_total_{kind}_err"]
    ci = [f"CI_{ee[1]}_{ee[0]}", f"CI_{ee[2]}_{ee[1]}", f"CI_{ee[2]}_{ee[0]}"]
    return (["label", "xcentroid", "ycentroid", "sky_centroid", "aper_bkg_flux", "aper_bkg_flux_err"]
            + block("flux") + block("abmag") + block("vegamag") + ci
            + ["is_extended", "sharpness", "roundness", "nn_label", "nn_dist",
               "isophotal_flux", "isophotal_flux_err", "isophotal_abmag", "isophotal_abmag_err",
               "isophotal_vegamag", "isophotal_vegamag_err", "isophotal_area", "semimajor_sigma",
               "semiminor_sigma", "ellipticity", "orientation", "sky_orientation",
               "sky_bbox_ll", "sky_bbox_ul", "sky_bbox_lr", "sky_bbox_ur"])


def empty_catalog(ee: tuple[int, int, int]) -> QTable:
    """A catalog with no rows (label int, everything else float)."""
    names = [n for n in column_names(ee) if not n.startswith("sky_")]
    return QTable(names=names, dtype=[int if n in ("label", "nn_label") else
                                      bool if n == "is_extended" else float for n in names])


def flux_to_abmag(flux: np.ndarray, flux_err: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AB magnitude and error from flux and error in Jy; NaN where the flux is negative.

    >>> m, e = flux_to_abmag(np.array([3631.0, -1.0]), np.array([0.0, 1.0]))
    >>> round(float(m[0]), 4), bool(np.isnan(m[1]))    # 8.9 is jwst's rounded zero point
    (-0.0001, True)
    """
    flux, flux_err = np.asarray(flux, float), np.asarray(flux_err, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = -2.5 * np.log10(flux) + AB_ZERO_POINT
        err = 2.5 * np.log10(1.0 + flux_err / flux)
    bad = ~(flux >= 0)
    mag[bad], err[bad] = np.nan, np.nan
    return mag, err


def local_background(data: np.ndarray, mask: np.ndarray, xy: np.ndarray, skyin: float,
                     skyout: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel local background and its error at each position (Jy), from the annulus.

    Parameters
    ----------
    data : (ny, nx) float, Jy/pixel;  mask : (ny, nx) bool, True = no data (excluded);
    xy : (n, 2) positions, 0-based pixels;  skyin, skyout : annulus radii, pixels.
    """
    annulus = CircularAnnulus(xy, skyin, skyout)
    clip = SigmaClip(sigma=3.0)
    level, error = np.full(len(xy), np.nan), np.full(len(xy), np.nan)
    masked = np.where(mask, np.nan, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, aperture_mask in enumerate(annulus.to_mask(method="center")):
            values = aperture_mask.get_values(masked)
            values = clip(values[np.isfinite(values)], masked=False)
            if values.size:
                level[i] = np.median(values)
                error[i] = np.sqrt(np.pi / (2.0 * values.size)) * np.std(values)
    return level, error


def aperture_fluxes(data: np.ndarray, err: np.ndarray, mask: np.ndarray, xy: np.ndarray,
                    radii: tuple[float, ...], background: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Background-subtracted flux and error (Jy) in a circular aperture of each radius."""
    apertures = [CircularAperture(xy, r) for r in radii]
    table = aperture_photometry(data, apertures, error=err, mask=mask)
    out = []
    for i, aperture in enumerate(apertures):
        flux = np.asarray(table[f"aperture_sum_{i}"], float) - background * aperture.area
        out.append((flux, np.asarray(table[f"aperture_sum_err_{i}"], float)))
    return out


def _dao_kernel(kernel_fwhm: float) -> tuple[np.ndarray, np.ndarray]:
    """The zero-sum DAOFind kernel and its circular mask (odd square, 1 = used)."""
    sigma = kernel_fwhm * gaussian_fwhm_to_sigma
    radius = max(2.0, 1.5 * sigma)
    size = 2 * int(radius) + 1
    c = size // 2
    yy, xx = np.mgrid[0:size, 0:size]
    mask = (np.hypot(xx - c, yy - c) <= radius).astype(float)
    gauss = Gaussian2DKernel(sigma, x_size=size, y_size=size).array
    gauss = gauss / gauss.max() * mask
    n = mask.sum()
    denom = np.sum(gauss ** 2) - gauss.sum() ** 2 / n
    return (gauss - gauss.sum() / n) / denom * mask, mask


def _cutouts(image: np.ndarray, xy: np.ndarray, size: int) -> np.ndarray:
    """(n, size, size) cutouts centred on the nearest pixel of each position, zero outside."""
    half = size // 2
    padded = np.pad(image, half + 1)
    out = np.zeros((len(xy), size, size))
    for i, (x, y) in enumerate(xy):
        ix, iy = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        if 0 <= ix < image.shape[1] and 0 <= iy < image.shape[0]:
            out[i] = padded[iy + 1:iy + 1 + size, ix + 1:ix + 1 + size]
    return out


def daofind_stats(data: np.ndarray, xy: np.ndarray, kernel_fwhm: float) -> tuple[np.ndarray, np.ndarray]:
    """DAOFind sharpness and roundness at each position (dimensionless; stars: sharpness
    ~0.2-1, roundness ~0)."""
    kernel, mask = _dao_kernel(kernel_fwhm)
    size, c = kernel.shape[0], kernel.shape[0] // 2
    conv = ndimage.convolve(data, kernel, mode="constant", cval=0.0)
    cut, cut_conv = _cutouts(data, xy, size), _cutouts(conv, xy, size)
    peak, conv_peak = cut[:, c, c].copy(), cut_conv[:, c, c].copy()
    mean_others = ((cut * mask).sum(axis=(1, 2)) - peak) / (mask.sum() - 1)
    cut_conv[:, c, c] = 0.0
    quadrants = (-cut_conv[:, :c + 1, c + 1:].sum(axis=(1, 2)) + cut_conv[:, :c, :c + 1].sum(axis=(1, 2))
                 - cut_conv[:, c:, :c].sum(axis=(1, 2)) + cut_conv[:, c + 1:, c:].sum(axis=(1, 2)))
    total = np.abs(cut_conv).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return (peak - mean_others) / conv_peak, 2.0 * quadrants / np.where(total == 0, np.nan, total)


def nearest_neighbours(xy: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Label of and distance (pixels) to each source's nearest other source (-1, NaN if alone)."""
    if len(xy) < 2:
        return np.full(len(xy), -1), np.full(len(xy), np.nan)
    dist, idx = KDTree(xy).query(xy, k=[2])
    return np.asarray(labels)[idx[:, 0]], dist[:, 0]


def _sky_orientation(wcs, shape: tuple[int, int], orientation_deg: np.ndarray) -> np.ndarray:
    """Position angle (east of north, deg) of the major axis: 180 - (angle of north from +x
    at the image centre) + orientation, modulo 360."""
    ny, nx = shape
    x0, y0 = (nx - 1) / 2.0, (ny - 1) / 2.0
    centre = wcs.pixel_to_world(x0, y0)
    north = centre.directional_offset_by(0 * u.deg, 1 * u.arcsec)
    xn, yn = wcs.world_to_pixel(north)
    angle = np.degrees(np.arctan2(yn - y0, xn - x0))
    return (180.0 - angle + np.asarray(orientation_deg, float)) % 360.0


def build_catalog(seg: QTable, data: np.ndarray, err: np.ndarray, mask: np.ndarray, wcs, apertures,
                  abvega: float, params) -> QTable:
    """The jwst catalog table from a segmentation table (:func:`~._sources.segment_table`)
    and the image.

    Parameters
    ----------
    seg : QTable
        ``id``, ``xcentroid``, ``ycentroid``, ``sky_centroid``, ``flux``, ``segment_flux_err``,
        ``area``, ``semimajor_axis``, ``semiminor_axis``, ``ellipticity``, ``orientation``,
        ``sky_bbox_*`` (photutils SourceCatalog of the background-subtracted image).
    data, err : (ny, nx) float, Jy per pixel (not background-subtracted; masked pixels 0).
    mask : (ny, nx) bool, True where there is no data (left out of apertures and annuli).
    wcs : gwcs, pixel -> sky.
    apertures : ApertureParams;  abvega : float, mag;  params : source_catalog Params.
    """
    xy = np.transpose([np.asarray(seg["xcentroid"], float), np.asarray(seg["ycentroid"], float)])
    xy = np.where(np.isfinite(xy), xy, -1000.0)
    bkg, bkg_err = local_background(data, mask, xy, apertures.skyin, apertures.skyout)
    cols: dict = {"label": np.asarray(seg["id"]), "xcentroid": xy[:, 0], "ycentroid": xy[:, 1],
                  "sky_centroid": seg["sky_centroid"], "aper_bkg_flux": bkg * u.Jy,
                  "aper_bkg_flux_err": bkg_err * u.Jy}
    fluxes = aperture_fluxes(data, err, mask, xy, apertures.radii, np.nan_to_num(bkg))
    fluxes.append((fluxes[-1][0] * apertures.apcorr[-1], fluxes[-1][1] * apertures.apcorr[-1]))
    names = [str(e) for e in apertures.ee] + ["_total"]
    mags = [flux_to_abmag(f, e) for f, e in fluxes]
    for name, (f, e) in zip(names, fluxes):
        cols[f"aper{name}_flux"], cols[f"aper{name}_flux_err"] = f * u.Jy, e * u.Jy
    for name, (m, e) in zip(names, mags):
        cols[f"aper{name}_abmag"], cols[f"aper{name}_abmag_err"] = m, e
    for name, (m, e) in zip(names, mags):
        cols[f"aper{name}_vegamag"], cols[f"aper{name}_vegamag_err"] = m - abvega, e
    _add_shape_columns(cols, seg, fluxes, data, xy, wcs, apertures, abvega, params)
    table = QTable()
    for name in column_names(apertures.ee):
        table[name] = cols[name]
    return table


def _add_shape_columns(cols, seg, fluxes, data, xy, wcs, apertures, abvega, params) -> None:
    ee = apertures.ee
    with np.errstate(divide="ignore", invalid="ignore"):
        ci = [fluxes[1][0] / fluxes[0][0], fluxes[2][0] / fluxes[1][0], fluxes[2][0] / fluxes[0][0]]
    cols[f"CI_{ee[1]}_{ee[0]}"], cols[f"CI_{ee[2]}_{ee[1]}"], cols[f"CI_{ee[2]}_{ee[0]}"] = ci
    cols["is_extended"] = (ci[0] > params.ci1_star_threshold) & (ci[1] > params.ci2_star_threshold)
    cols["sharpness"], cols["roundness"] = daofind_stats(data, xy, params.kernel_fwhm)
    nn_label, nn_dist = nearest_neighbours(xy, cols["label"])
    cols["nn_label"], cols["nn_dist"] = nn_label, nn_dist * u.pix
    iso, iso_err = np.asarray(seg["flux"], float), np.asarray(seg["segment_flux_err"], float)
    mag, mag_err = flux_to_abmag(iso, iso_err)
    cols.update({"isophotal_flux": iso * u.Jy, "isophotal_flux_err": iso_err * u.Jy,
                 "isophotal_abmag": mag, "isophotal_abmag_err": mag_err,
                 "isophotal_vegamag": mag - abvega, "isophotal_vegamag_err": mag_err,
                 "isophotal_area": u.Quantity(seg["area"]).value * u.pix ** 2,
                 "semimajor_sigma": u.Quantity(seg["semimajor_axis"]).value * u.pix,
                 "semiminor_sigma": u.Quantity(seg["semiminor_axis"]).value * u.pix,
                 "ellipticity": np.asarray(u.Quantity(seg["ellipticity"]).value, float)})
    orientation = u.Quantity(seg["orientation"]).to_value(u.deg)
    cols["orientation"] = orientation * u.deg
    cols["sky_orientation"] = _sky_orientation(wcs, data.shape, orientation) * u.deg
    for corner in ("ll", "ul", "lr", "ur"):
        cols[f"sky_bbox_{corner}"] = seg[f"sky_bbox_{corner}"]
