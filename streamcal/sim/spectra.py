"""MIRI LRS scenes: a point source with a known spectrum (and the sky) dispersed by the P750L
prism onto the detector through the SAME trace model the pipeline uses -- the synthetic
SPECWCS and imager DISTORTION via :func:`streamcal.wcs.lrs.lrs_wcs` -- with the photon budget,
slit transmission and flat of the synthetic references (:mod:`streamcal.refs.synth_lrs`), so
that a perfect calibration (flat, pathloss, photom, a box extraction) gives the truth back.

Point source (e-/s per pixel): row ``y`` of the window collects

    e(y) = int F_nu(lambda) 1e-26 A T(lambda) S(lambda) / (h lambda) dlambda

over the row's wavelength band ``[lambda(y + 1/2), lambda(y - 1/2)]`` (the WCS's lambda(y);
8-point Gauss-Legendre in lambda), S = the slit transmission (fixed slit, at the source's
cross-slit offset: beta of the WCS's alpha_beta frame; 1 slitless).  Across the trace the light is a pixel-integrated Gaussian (sigma of
:func:`streamcal.refs.synth_lrs.psf_sigma_arcsec`) centred where the WCS inverse puts the source
at the row's wavelength: the target (TARG_RA/TARG_DEC) sits at the aperture reference point
(IMX/IMY or IMXSLTL/IMYSLTL) moved by the dither offset XOFFSET/YOFFSET (a nod along the slit).

Sky: a smooth surface brightness ``B(lambda) = SKY_MJYSR_10UM (lambda / 10 um)^2`` MJy/sr
(zodiacal + thermal).  Through the slit each pixel of the slit's dispersed image (the
WAVETABLE box) collects ``w B Omega 1e6 1e-26 A T R_pix / h`` (w = slit width in pixels: the
pixel sees the slit's whole width, each part at its own wavelength); slitless, every pixel
collects the whole band, ``int B Omega 1e6 1e-26 A T / (h lambda) dlambda`` -- as does the open
imager field around the slit in fixed-slit exposures (the prism disperses the whole field),
except under the slit mask: the rows from the detector edge to ``SLIT_MASK_MARGIN`` beyond the
trace's top, columns within ``SLIT_MASK_MARGIN`` of the slit's image, get only the slit's light.
No field sources.

Flat: the LRS FLAT is a flat in DN (as flats measured on the sky are): it holds the pixels'
gain relative to the nominal one, which PHOTOM assumes (:func:`streamcal.refs.synth_lrs`
``_flat``).  The electrons a pixel collects are therefore scene x FLAT x gain / nominal gain
(:func:`electron_response`), and the DN/s, scene x FLAT / nominal gain: dividing by the FLAT
and converting with PHOTOM returns the scene exactly.

Truth: :class:`SpectrumTruth` -- the spectrum (wavelength um, F_nu Jy) on a fine grid, the
source's own rate image (DN/s, flat and gain applied), the nod offset and the trace position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.table import Table
from scipy.special import erf

from ..refs import synth_lrs
from ..refs import synth_stage2 as budget
from ..wcs import Pointing, ideal_to_v2v3, v2v3_to_sky
from ..wcs.lrs import LRS_EXP_TYPES, LrsSpecwcs, lrs_wcs, reference_point

if TYPE_CHECKING:
    from gwcs import WCS

    from ..models import ExposureMeta
    from ..refs import ReferenceSet
    from .config import ExposureConfig, Setup

__all__ = ["SourceSpectrum", "SpectrumTruth", "LrsScene", "is_lrs", "aperture_pixel", "lrs_scene", "lrs_cards",
           "nod_pair", "read_spectrum_truth", "electron_response", "specwcs_of", "sky_mjysr", "SKY_MJYSR_10UM",
           "DEFAULT_NOD_ARCSEC"]

#: Sky surface brightness at 10 um, MJy/sr.
SKY_MJYSR_10UM = 10.0
#: Margin, pixels, of the slit mask around the slit's dispersed image (no open-field light there).
SLIT_MASK_MARGIN = 30
#: Nod offset along the slit, arcsec (the two nods at +- this along ideal X, the slit's long axis).
DEFAULT_NOD_ARCSEC = 1.3
#: Gauss-Legendre nodes and weights on [-1, 1] for the row integrals.
_GL_X, _GL_W = np.polynomial.legendre.leggauss(8)
#: Wavelength grid of the truth spectrum, um.
TRUTH_WAVELENGTHS = np.linspace(4.0, 14.5, 2101)


@dataclass(frozen=True)
class SourceSpectrum:
    """A point source's spectrum: a smooth continuum plus Gaussian emission lines.

    ``F_nu(lambda) = continuum_mjy (lambda / 7.5 um)^slope + sum_k peak_k exp(-(lambda -
    centre_k)^2 / (2 sigma_k^2))``, mJy.

    Attributes
    ----------
    continuum_mjy : float
        Continuum at 7.5 um, mJy.
    slope : float
        Power-law index of the continuum in wavelength.
    lines : tuple of (centre um, peak mJy, sigma um)
        Emission lines (defaults: PAH-like 6.2, 7.7, 11.3 um; sigma >= 1.5 pixels of the prism
        so rows sample them).
    """

    continuum_mjy: float = 5.0
    slope: float = -0.8
    lines: tuple[tuple[float, float, float], ...] = ((6.2, 2.0, 0.06), (7.7, 3.0, 0.08), (11.3, 2.5, 0.08))

    def flux_mjy(self, wavelength: np.ndarray | float) -> np.ndarray:
        """F_nu, mJy, at ``wavelength`` um."""
        lam = np.asarray(wavelength, np.float64)
        out = self.continuum_mjy * (lam / 7.5) ** self.slope
        for centre, peak, sigma in self.lines:
            out = out + peak * np.exp(-0.5 * ((lam - centre) / sigma) ** 2)
        return out

    def flux_jy(self, wavelength: np.ndarray | float) -> np.ndarray:
        return 1e-3 * self.flux_mjy(wavelength)


@dataclass
class SpectrumTruth:
    """The truth of an LRS exposure's point source.

    Attributes
    ----------
    wavelength : ndarray, float64
        Micron.
    flux_jy : ndarray, float64
        F_nu of the source, Jy (before slit losses: what a fully calibrated extraction gives).
    source_rate_dn : ndarray, float32, (ny, nx)
        The source's own rate, DN/s (flat, gain, dead pixels applied; part of the exposure's
        ``rate_dn``, which also holds the sky).
    nod_arcsec : (float, float)
        XOFFSET, YOFFSET of the exposure.
    source_x, source_y : float
        0-based pixel of the source's trace at :data:`REFERENCE_WAVELENGTH`.
    sky_mjysr_10um : float
        The sky's surface brightness at 10 um, MJy/sr (0: no sky).
    """

    wavelength: np.ndarray
    flux_jy: np.ndarray
    source_rate_dn: np.ndarray
    nod_arcsec: tuple[float, float]
    source_x: float
    source_y: float
    sky_mjysr_10um: float

    def to_hdus(self) -> list:
        """SPECTRUM table (wavelength um, flux Jy; header NODX/NODY, SRC_X/SRC_Y, SKY10UM) and
        SOURCE image (DN/s)."""
        table = fits.BinTableHDU.from_columns([
            fits.Column("wavelength", "D", unit="um", array=self.wavelength),
            fits.Column("flux", "D", unit="Jy", array=self.flux_jy)], name="SPECTRUM")
        for key, value, comment in ((_CARDS[0], self.nod_arcsec[0], "[arcsec] XOFFSET (nod)"),
                                    (_CARDS[1], self.nod_arcsec[1], "[arcsec] YOFFSET"),
                                    (_CARDS[2], self.source_x, "[pix] 0-based trace x at 7.5 um"),
                                    (_CARDS[3], self.source_y, "[pix] 0-based trace y at 7.5 um"),
                                    (_CARDS[4], self.sky_mjysr_10um, "[MJy/sr] sky at 10 um")):
            table.header[key] = (float(value), comment)
        image = fits.ImageHDU(self.source_rate_dn, name="SOURCE")
        image.header["BUNIT"] = "DN/s"
        return [table, image]

    @classmethod
    def from_hdulist(cls, hdul: fits.HDUList) -> SpectrumTruth | None:
        if "SPECTRUM" not in hdul:
            return None
        t = hdul["SPECTRUM"]
        h = t.header
        return cls(np.array(t.data["wavelength"], np.float64), np.array(t.data["flux"], np.float64),
                   np.array(hdul["SOURCE"].data, np.float32), (float(h[_CARDS[0]]), float(h[_CARDS[1]])),
                   float(h[_CARDS[2]]), float(h[_CARDS[3]]), float(h[_CARDS[4]]))


_CARDS = ("NODX", "NODY", "SRC_X", "SRC_Y", "SKY10UM")
#: Wavelength at which the truth records the trace position, um.
REFERENCE_WAVELENGTH = 7.5


def read_spectrum_truth(path: str | Path) -> SpectrumTruth | None:
    """The point-source truth of an LRS exposure's ``_truth.fits``; None for other exposures."""
    with fits.open(path) as hdul:
        return SpectrumTruth.from_hdulist(hdul)


@dataclass
class LrsScene:
    """What the detector sees, e-/s/pixel (float64, window shape), before flat and dead pixels."""

    total_e: np.ndarray
    source_e: np.ndarray
    catalog: Table
    wcs: WCS


def is_lrs(exp_type: str) -> bool:
    return exp_type.upper() in LRS_EXP_TYPES


def specwcs_of(refs: ReferenceSet, meta: ExposureMeta) -> LrsSpecwcs:
    """The LRS SPECWCS the pipeline will use for this exposure.

    Raises
    ------
    ValueError
        The reference set has none for it.
    """
    ref = refs.get("specwcs", meta)
    if ref is None:
        raise ValueError(f"the reference set has no LRS specwcs for {meta.exp_type}")
    return LrsSpecwcs.from_refdata(ref)


def aperture_pixel(refs: ReferenceSet, meta: ExposureMeta) -> tuple[float, float]:
    """0-based window pixel of the LRS aperture reference point (where the pointing puts the
    undithered target): the SPECWCS's IMX/IMY (slit) or IMXSLTL/IMYSLTL (slitless)."""
    return reference_point(specwcs_of(refs, meta), meta.exp_type, (meta.substrt1, meta.substrt2))


def sky_mjysr(wavelength: np.ndarray | float, level_10um: float = SKY_MJYSR_10UM) -> np.ndarray:
    """Sky surface brightness, MJy/sr, at ``wavelength`` um."""
    return level_10um * (np.asarray(wavelength, np.float64) / 10.0) ** 2


def _photons_per_jy(det, wavelength: np.ndarray) -> np.ndarray:
    """Electrons/s per Jy per unit d(lambda)/lambda: 1e-26 A T / h."""
    return 1e-26 * budget.COLLECTING_AREA_M2 * synth_lrs.throughput(wavelength) / budget.PLANCK_J_S


def _row_wavelengths(wcs: WCS, x: float, ny: int) -> tuple[np.ndarray, np.ndarray]:
    """Wavelength at each row's centre and its edges (ny + 1: y - 1/2 ... ), um (NaN off the trace)."""
    centres = wcs(np.full(ny, x), np.arange(ny, dtype=np.float64), with_bounding_box=False)[2]
    edges = wcs(np.full(ny + 1, x), np.arange(ny + 1) - 0.5, with_bounding_box=False)[2]
    return np.asarray(centres, np.float64), np.asarray(edges, np.float64)


def _row_electrons(det, spectrum: SourceSpectrum, edges: np.ndarray, slit_offset: float | None) -> np.ndarray:
    """e-/s of the point source in each row (module formula), 0 where a row edge is off the trace."""
    lo, hi = np.minimum(edges[:-1], edges[1:]), np.maximum(edges[:-1], edges[1:])
    ok = np.isfinite(lo) & np.isfinite(hi)
    lo, hi = np.where(ok, lo, 1.0), np.where(ok, hi, 1.0)
    half, mid = 0.5 * (hi - lo), 0.5 * (hi + lo)
    lam = mid[:, None] + half[:, None] * _GL_X[None, :]
    integrand = spectrum.flux_jy(lam) * _photons_per_jy(det, lam) / lam
    if slit_offset is not None:
        integrand = integrand * synth_lrs.slit_transmission(lam, slit_offset, det.pixel_scale)
    return np.where(ok, half * (integrand @ _GL_W), 0.0)


def _cross_profile(centre: np.ndarray, sigma: np.ndarray, nx: int) -> np.ndarray:
    """(ny, nx) pixel-integrated Gaussians, one per row."""
    edges = np.arange(nx + 1) - 0.5
    cdf = 0.5 * (1.0 + erf((edges[None, :] - centre[:, None]) / (math.sqrt(2.0) * sigma[:, None])))
    return np.diff(cdf, axis=1)


def _source_image(det, wcs: WCS, spectrum: SourceSpectrum, ra: float, dec: float, shape: tuple[int, int],
                  slit: bool) -> tuple[np.ndarray, float, float]:
    """The point source, e-/s/pixel, and its pixel at the reference wavelength."""
    ny, nx = shape
    x_ref, y_ref = wcs.invert(ra, dec, REFERENCE_WAVELENGTH, with_bounding_box=False)
    centres, edges = _row_wavelengths(wcs, float(x_ref), ny)
    on = np.isfinite(centres)
    lam = np.where(on, centres, REFERENCE_WAVELENGTH)
    x_rows = np.asarray(wcs.invert(np.full(ny, ra), np.full(ny, dec), lam, with_bounding_box=False)[0], np.float64)
    # the cross-slit offset is beta of the alpha_beta frame (arcsec): ~0 for nods along the slit;
    # a pointing error across the slit costs light that jwst's pathloss cannot see (its inverse
    # WCS drops beta), as in real data
    beta = float(wcs.get_transform("world", "alpha_beta")(ra, dec, REFERENCE_WAVELENGTH)[1])
    electrons = _row_electrons(det, spectrum, edges, beta if slit else None)
    sigma = synth_lrs.psf_sigma_arcsec(lam, det.pixel_scale) / det.pixel_scale
    image = _cross_profile(np.where(on, x_rows, 0.0), sigma, nx) * np.where(on, electrons, 0.0)[:, None]
    return image, float(x_ref), float(y_ref)


def _open_field_sky(det, level: float) -> float:
    """e-/s/pixel of the prism-dispersed sky of the open field: the whole band on every pixel."""
    lam = np.linspace(synth_lrs.WAVE_MIN, synth_lrs.WAVE_MAX, 2001)
    per_lnlam = sky_mjysr(lam, level) * 1e6 * budget.pixel_area_sr(det) * _photons_per_jy(det, lam)
    return float(np.trapezoid(per_lnlam / lam, lam))


def _slit_columns(specwcs: LrsSpecwcs, zero: tuple[float, float]) -> tuple[int, int]:
    """First and last column of the slit's dispersed image (the WAVETABLE box)."""
    c = specwcs.corners
    return int(math.floor(c.x0.min() + zero[0] + 0.5)), int(math.ceil(c.x1.max() + zero[0] - 0.5))


def _sky_image(det, wcs: WCS, specwcs: LrsSpecwcs, shape: tuple[int, int], slit: bool, level: float,
               zero: tuple[float, float]) -> np.ndarray:
    """The sky, e-/s/pixel (module formula)."""
    ny, nx = shape
    if level <= 0:
        return np.zeros(shape)
    image = np.full(shape, _open_field_sky(det, level))
    if not slit:
        return image
    centres, _ = _row_wavelengths(wcs, zero[0], ny)
    lam = np.where(np.isfinite(centres), centres, synth_lrs.WAVE_MIN)
    width_pix = synth_lrs.SLIT_WIDTH_ARCSEC / det.pixel_scale
    rows = (width_pix * sky_mjysr(lam, level) * 1e6 * budget.pixel_area_sr(det) * _photons_per_jy(det, lam)
            * synth_lrs.dispersion(lam) / lam)
    rows = np.where(np.isfinite(centres), rows, 0.0)
    x0, x1 = _slit_columns(specwcs, zero)
    top = int(math.ceil(specwcs.y_center.max() + zero[1])) + SLIT_MASK_MARGIN
    image[:max(top, 0), max(x0 - SLIT_MASK_MARGIN, 0):max(x1 + SLIT_MASK_MARGIN + 1, 0)] = 0.0
    image[:, max(x0, 0):max(x1 + 1, 0)] += rows[:, None]
    return image


def lrs_scene(s: Setup, pointing: Pointing, meta: ExposureMeta, refs: ReferenceSet, distortion) -> LrsScene:
    """The LRS scene of an exposure through the true ``pointing`` (module description).

    Raises
    ------
    ValueError
        Not an LRS exposure, or the reference set has no LRS SPECWCS for it.
    """
    c, det, sub = s.config, s.detector, s.subarray
    if not is_lrs(c.exp_type):
        raise ValueError(f"not a MIRI LRS exposure: {c.exp_type}")
    specwcs = specwcs_of(refs, meta)
    substrt = (sub.substrt1, sub.substrt2)
    wcs = lrs_wcs(pointing, distortion, specwcs, c.exp_type, substrt, (sub.subsize1, sub.subsize2))
    slit = LRS_EXP_TYPES[c.exp_type]
    spectrum = c.spectrum or SourceSpectrum()
    source, x, y = _source_image(det, wcs, spectrum, c.target_ra, c.target_dec, sub.shape, slit)
    level = SKY_MJYSR_10UM if c.sky_e is None else float(c.sky_e)
    sky = _sky_image(det, wcs, specwcs, sub.shape, slit, level, reference_point(specwcs, c.exp_type, substrt))
    catalog = Table({"ra": [c.target_ra], "dec": [c.target_dec], "flux_e": [float(source.sum())],
                     "kind": np.array(["target"], "U6"), "sigma_major": [0.0], "sigma_minor": [0.0],
                     "theta": [0.0], "x": [x], "y": [y]})
    return LrsScene(source + sky, source, catalog, wcs)


def spectrum_truth(s: Setup, scene: LrsScene, response: np.ndarray, gain: np.ndarray) -> SpectrumTruth:
    """The truth of an LRS exposure (``response``: flat x live pixels; ``gain``: e-/DN)."""
    c = s.config
    spectrum = c.spectrum or SourceSpectrum()
    return SpectrumTruth(TRUTH_WAVELENGTHS.copy(), spectrum.flux_jy(TRUTH_WAVELENGTHS),
                         (scene.source_e * response / gain).astype(np.float32),
                         (float(c.dither_offset[0]), float(c.dither_offset[1])),
                         float(scene.catalog["x"][0]), float(scene.catalog["y"][0]),
                         SKY_MJYSR_10UM if c.sky_e is None else float(c.sky_e))


def electron_response(flat: np.ndarray, gain: np.ndarray, s: Setup) -> np.ndarray:
    """Collected e- per scene e- of each pixel for an LRS exposure: FLAT (in DN) x gain / the
    nominal gain (module description)."""
    from ..refs.synthetic import nominal

    return flat * (gain / np.float32(nominal(s.detector).gain))


def lrs_cards(s: Setup, header_pointing: Pointing) -> dict:
    """Primary-header cards an LRS exposure needs beyond the imaging ones: SRCTYAPT and
    DITH_RA/DITH_DEC (the sky position of the dither offset, jwst's definition)."""
    c = s.config
    v2, v3 = ideal_to_v2v3(header_pointing.v2_ref, header_pointing.v3_ref, header_pointing.v3yangle,
                           header_pointing.vparity)(*c.dither_offset)
    ra, dec = v2v3_to_sky(header_pointing)(v2, v3)
    return {"SRCTYAPT": "POINT", "DITH_RA": float(ra), "DITH_DEC": float(dec)}


def nod_pair(config: ExposureConfig, offset_arcsec: float = DEFAULT_NOD_ARCSEC) -> tuple[ExposureConfig, ...]:
    """The two exposures of an LRS fixed-slit along-slit nod: the target at +-``offset_arcsec``
    along the slit (ideal X), PATTTYPE ALONG-SLIT-NOD, PATT_NUM 1 and 2, NUMDTHPT 2; the same
    scene and distinct noise seeds."""
    from dataclasses import replace

    if config.exp_type.upper() != "MIR_LRS-FIXEDSLIT":
        raise ValueError(f"a nod pair is a MIR_LRS-FIXEDSLIT pattern, not {config.exp_type}")
    return tuple(replace(config, dither_offset=(sign * offset_arcsec, 0.0), patttype="ALONG-SLIT-NOD",
                         patt_num=k + 1, numdthpt=2, exposure=k + 1, seed=config.seed + k)
                 for k, sign in enumerate((1.0, -1.0)))
