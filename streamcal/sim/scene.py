"""The sky a simulated exposure looks at: pointing, a simple TAN WCS, sources, sky, rendering.

All rates are in electrons per second per pixel (what the detector collects before gain).
The model is deliberately simple -- Gaussian PSFs whose width follows the diffraction limit of
the filter's wavelength, Gaussian galaxies, straight dispersed traces for spectroscopic modes --
but sources are placed on the detector through the exposure's real imaging WCS (the distortion
reference file and the true pointing, :mod:`streamcal.sim.pointing`), so dithered exposures of
one observation see the same sources where the pipeline's WCS expects them.
"""

from __future__ import annotations

import math

import numpy as np
from astropy.table import Table
from astropy.wcs import WCS
from scipy.special import erf

from ..detectors import filter_wavelength_um  # noqa: F401  (the simulator's filters: re-exported)

#: JWST primary mirror diameter, m.
MIRROR_DIAMETER_M = 6.5


def psf_sigma_pixels(wavelength_um: float, pixel_scale_arcsec: float) -> float:
    """Gaussian sigma, pixels, of a diffraction-limited PSF (FWHM = 1.028 lambda / D), widened
    in quadrature by 0.5 pixel for charge diffusion, IPC and pointing jitter.

    >>> round(psf_sigma_pixels(2.0, 0.0311), 2)   # NIRCam F200W: FWHM ~0.065" = 2.1 px
    1.02
    """
    fwhm_arcsec = 1.028 * wavelength_um * 1e-6 / MIRROR_DIAMETER_M * 206264.806
    return math.hypot(fwhm_arcsec / pixel_scale_arcsec / 2.3548, 0.5)


def sky_rate_e(instrument: str, wavelength_um: float) -> float:
    """Typical background, e-/s/pixel: zodiacal light for NIR, thermal for MIRI (rises
    steeply with wavelength)."""
    if instrument == "MIRI":
        return 20.0 * (wavelength_um / 7.7) ** 3
    return {"NIRCAM": 0.25, "NIRISS": 0.3, "NIRSPEC": 0.05, "FGS": 0.3}.get(instrument, 0.3)


# ------------------------------------------------------------------------------------ WCS

def tan_wcs(ra_deg: float, dec_deg: float, roll_deg: float, scale_arcsec: float,
            crpix: tuple[float, float]) -> WCS:
    """A TAN WCS: ``(ra, dec)`` at the 1-based pixel ``crpix``, ``scale`` arcsec/pixel, north
    turned ``roll`` degrees from +y towards +x, east to the left (VPARITY = -1)."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.cunit = ["deg", "deg"]
    w.wcs.crval = [ra_deg, dec_deg]
    w.wcs.crpix = list(crpix)
    w.wcs.cdelt = [scale_arcsec / 3600.0, scale_arcsec / 3600.0]
    c, s = math.cos(math.radians(roll_deg)), math.sin(math.radians(roll_deg))
    w.wcs.pc = [[-c, s], [s, c]]
    return w


# -------------------------------------------------------------------------------- sources

def make_catalog(nominal: WCS, shape: tuple[int, int], pixel_scale: float, rng: np.random.Generator, *,
                 stars_per_arcmin2: float = 60.0, galaxies_per_arcmin2: float = 300.0,
                 margin_pix: float = 20.0, target_flux_e: float | None = 2e4,
                 star_flux_range: tuple[float, float] | None = None) -> Table:
    """Random stars and galaxies over a window (plus a margin), placed on the sky.

    Returns
    -------
    astropy.table.Table
        Columns ``ra``, ``dec`` (deg), ``flux_e`` (total e-/s), ``kind`` ('target', 'star',
        'galaxy'), ``sigma_major``, ``sigma_minor`` (intrinsic Gaussian sigma, arcsec; 0 for
        stars) and ``theta`` (deg).  The target star sits at the WCS reference point.
        Star rates: :func:`_star_fluxes`, or log-uniform in ``star_flux_range`` (e-/s).
    """
    ny, nx = shape
    area = (nx + 2 * margin_pix) * (ny + 2 * margin_pix) * (pixel_scale / 60.0) ** 2
    n_star = rng.poisson(stars_per_arcmin2 * area)
    n_gal = rng.poisson(galaxies_per_arcmin2 * area)
    n = n_star + n_gal
    x = rng.uniform(-margin_pix, nx - 1 + margin_pix, n)
    y = rng.uniform(-margin_pix, ny - 1 + margin_pix, n)
    stars = (_star_fluxes(rng, n_star) if star_flux_range is None
             else 10 ** rng.uniform(*np.log10(star_flux_range), n_star))
    flux = np.concatenate([stars, 10 ** rng.uniform(1.3, 3.7, n_gal)])
    kind = ["star"] * n_star + ["galaxy"] * n_gal
    major = np.concatenate([np.zeros(n_star), rng.uniform(0.05, 0.4, n_gal)])
    minor = major * np.concatenate([np.zeros(n_star), rng.uniform(0.3, 1.0, n_gal)])
    theta = rng.uniform(0, 180, n)
    if target_flux_e:
        cx, cy = nominal.wcs.crpix
        x, y = np.append(x, cx - 1), np.append(y, cy - 1)
        flux, kind = np.append(flux, target_flux_e), kind + ["target"]
        major, minor, theta = np.append(major, 0.0), np.append(minor, 0.0), np.append(theta, 0.0)
    ra, dec = nominal.all_pix2world(x, y, 0) if len(x) else (np.zeros(0), np.zeros(0))
    return Table({"ra": ra, "dec": dec, "flux_e": flux, "kind": kind,
                  "sigma_major": major, "sigma_minor": minor, "theta": theta})


def _star_fluxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Log-uniform 10..3e4 e-/s, with 5 % bright stars up to 1e6 e-/s (they saturate)."""
    flux = 10 ** rng.uniform(1.0, 4.5, n)
    bright = rng.random(n) < 0.05
    flux[bright] = 10 ** rng.uniform(4.5, 6.0, int(bright.sum()))
    return flux


# ------------------------------------------------------------------------------ rendering

def _gauss_1d(centre: float, sigma: float, lo: int, hi: int) -> np.ndarray:
    """Fraction of a 1-D Gaussian falling in each pixel lo..hi-1 (pixel k spans k-0.5..k+0.5)."""
    edges = np.arange(lo, hi + 1) - 0.5
    cdf = 0.5 * (1.0 + erf((edges - centre) / (math.sqrt(2.0) * sigma)))
    return np.diff(cdf)


def _add_stamp(image: np.ndarray, x: float, y: float, flux: float, sx: float, sy: float,
               theta_deg: float) -> None:
    """Add an elliptical Gaussian of total ``flux`` centred at (x, y) to ``image``."""
    ny, nx = image.shape
    reach = 5.0 * max(sx, sy) + 1.0
    x0, x1 = max(int(math.floor(x - reach)), 0), min(int(math.ceil(x + reach)) + 1, nx)
    y0, y1 = max(int(math.floor(y - reach)), 0), min(int(math.ceil(y + reach)) + 1, ny)
    if x0 >= x1 or y0 >= y1:
        return
    if abs(sx - sy) < 1e-6:  # round: exact pixel-integrated separable profile
        image[y0:y1, x0:x1] += flux * np.outer(_gauss_1d(y, sy, y0, y1), _gauss_1d(x, sx, x0, x1))
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    c, s = math.cos(math.radians(theta_deg)), math.sin(math.radians(theta_deg))
    u = (xx - x) * c + (yy - y) * s
    v = -(xx - x) * s + (yy - y) * c
    profile = np.exp(-0.5 * ((u / sx) ** 2 + (v / sy) ** 2)) / (2 * math.pi * sx * sy)
    image[y0:y1, x0:x1] += flux * profile


def source_pixels(catalog: Table, wcs) -> tuple[np.ndarray, np.ndarray]:
    """0-based pixel positions of the catalog sources through ``wcs``: a gwcs (an exposure's
    imaging WCS, inverted outside its bounding box too) or an astropy WCS."""
    if len(catalog) == 0:
        return np.zeros(0), np.zeros(0)
    ra, dec = np.asarray(catalog["ra"], float), np.asarray(catalog["dec"], float)
    if hasattr(wcs, "invert"):
        return wcs.invert(ra, dec, with_bounding_box=False)
    return wcs.all_world2pix(ra, dec, 0)


def render_sources(catalog: Table, x: np.ndarray, y: np.ndarray, shape: tuple[int, int],
                   psf_sigma: float, pixel_scale: float) -> np.ndarray:
    """Image, e-/s/pixel, float64 ``shape``: every source convolved with the Gaussian PSF."""
    image = np.zeros(shape)
    for row, xi, yi in zip(catalog, x, y):
        sa = math.hypot(row["sigma_major"] / pixel_scale, psf_sigma)
        sb = math.hypot(row["sigma_minor"] / pixel_scale, psf_sigma)
        _add_stamp(image, float(xi), float(yi), float(row["flux_e"]), sa, sb, float(row["theta"]))
    return image


def render_traces(catalog: Table, x: np.ndarray, y: np.ndarray, shape: tuple[int, int],
                  psf_sigma: float, axis: int, length: int = 300) -> np.ndarray:
    """Image, e-/s/pixel: each source dispersed into a straight trace ``length`` pixels long
    along ``axis`` (1 = x, 0 = y), Gaussian across it -- a stand-in for slitless/slit spectra
    (no wavelength solution)."""
    image = np.zeros(shape)
    n_along = shape[axis]
    for row, xi, yi in zip(catalog, x, y):
        along, across = (xi, yi) if axis == 1 else (yi, xi)
        a0, a1 = max(int(along - length / 2), 0), min(int(along + length / 2), n_along)
        if a0 >= a1:
            continue
        n_across = shape[1 - axis]
        c0, c1 = max(int(across - 6 * psf_sigma), 0), min(int(across + 6 * psf_sigma) + 1, n_across)
        if c0 >= c1:
            continue
        cross = _gauss_1d(float(across), psf_sigma, c0, c1) * float(row["flux_e"]) / length
        if axis == 1:
            image[c0:c1, a0:a1] += cross[:, None]
        else:
            image[a0:a1, c0:c1] += cross[None, :]
    return image


def lamp_illumination(shape: tuple[int, int], level_e: float, rng: np.random.Generator) -> np.ndarray:
    """Flat-field / lamp illumination, e-/s/pixel: ``level_e`` with a gentle 10 % gradient."""
    ny, nx = shape
    gy, gx = rng.uniform(-0.05, 0.05, 2)
    yy = np.linspace(-1, 1, ny)[:, None]
    xx = np.linspace(-1, 1, nx)[None, :]
    return level_e * (1.0 + gy * yy + gx * xx)
