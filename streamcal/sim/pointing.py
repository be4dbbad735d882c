"""Where a simulated exposure points: the header's (commanded) pointing and the true one.

The exposure's aperture is its readout window: reference point at the window centre, whose
V2/V3 is where the detector's DISTORTION transform puts that pixel (so the header's
V2_REF/V3_REF, RA_REF/DEC_REF are consistent with the reference files the pipeline will use).
The target sits at the reference point of the undithered exposure; a dither moves the telescope
so that the target lands (XOFFSET, YOFFSET) / nominal pixel scale pixels further along +x/+y.
The true attitude differs from the header's by a random pointing error
(``pointing_error_arcsec``: an offset of 0.25-1 times that size in a random direction, and a
roll error of up to 0.01 deg per arcsec of it); the scene is rendered through the TRUE attitude
and the same distortion, so a WCS built from the header is off by exactly the recorded error --
what tweakreg must find.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy.modeling import Model
from astropy.wcs.utils import fit_wcs_from_points
from gwcs import WCS

from ..wcs import Pointing, exposure_wcs, linear_distortion
from ..wcs.apertures import VPARITY

#: Roll error per arcsec of pointing error, deg.
ROLL_ERROR_PER_ARCSEC = 0.01


@dataclass(frozen=True)
class ExposurePointing:
    """Header and true pointing of one exposure, the true WCS (renders the scene) and the
    header's WCS (its TAN approximation goes into the raw file)."""

    header: Pointing
    truth: Pointing
    wcs: WCS
    header_wcs: WCS

    def error_cards(self) -> dict:
        """Truth-file cards: the true RA_REF/DEC_REF/ROLL_REF and the injected error
        (east, north offsets of the true reference point and roll difference, arcsec)."""
        h, t = self.header, self.truth
        east = (t.ra_ref - h.ra_ref + 180.0) % 360.0 - 180.0
        east *= np.cos(np.deg2rad(h.dec_ref)) * 3600.0
        north = (t.dec_ref - h.dec_ref) * 3600.0
        return {"TRA_REF": (t.ra_ref, "true RA_REF, deg"), "TDEC_REF": (t.dec_ref, "true DEC_REF, deg"),
                "TROLLREF": (t.roll_ref, "true ROLL_REF, deg"),
                "PERR_E": (float(east), "pointing error east, arcsec (true - header)"),
                "PERR_N": (float(north), "pointing error north, arcsec"),
                "PERR_ROL": (float((t.roll_ref - h.roll_ref) * 3600.0), "roll error, arcsec")}


def dithered(nominal: Pointing, nominal_wcs: WCS, ref_pixel: tuple[float, float],
             offset_pix: tuple[float, float]) -> Pointing:
    """The pointing after a dither: the telescope moves so that the sky at pixel
    ``ref_pixel - offset_pix`` of the ``nominal`` pointing comes to the reference point; what
    was at the reference point then lands ``offset_pix`` further along +x/+y (to second order
    in the distortion: ~1e-3 pixel for arcsecond dithers)."""
    if not any(offset_pix):
        return nominal
    ra, dec = nominal_wcs(ref_pixel[0] - offset_pix[0], ref_pixel[1] - offset_pix[1], with_bounding_box=False)
    return nominal.moved(ra_ref=float(ra), dec_ref=float(dec))


def perturbed(pointing: Pointing, error_arcsec: float, rng: np.random.Generator) -> Pointing:
    """A pointing off by 0.25-1 x ``error_arcsec`` in a random direction, roll off by up to
    ``ROLL_ERROR_PER_ARCSEC`` deg per arcsec of error."""
    if error_arcsec <= 0:
        return pointing
    size = error_arcsec * rng.uniform(0.25, 1.0)
    angle = rng.uniform(0.0, 360.0)
    droll = rng.uniform(-1.0, 1.0) * ROLL_ERROR_PER_ARCSEC * error_arcsec
    moved = SkyCoord(pointing.ra_ref * u.deg, pointing.dec_ref * u.deg).directional_offset_by(
        angle * u.deg, size * u.arcsec)
    return pointing.moved(ra_ref=float(moved.ra.deg), dec_ref=float(moved.dec.deg),
                          roll_ref=pointing.roll_ref + droll)


def aperture_of(distortion: Model, substrt: tuple[int, int], shape: tuple[int, int],
                ref_pixel: tuple[float, float] | None = None) -> tuple[float, float, float, float]:
    """(x_ref, y_ref) 0-based in the window (its centre, or ``ref_pixel``: the MIRI LRS slit
    and slitless reference points) and its (V2, V3) arcsec."""
    ny, nx = shape
    x_ref, y_ref = ref_pixel if ref_pixel is not None else ((nx - 1) / 2.0, (ny - 1) / 2.0)
    v2, v3 = distortion(x_ref + substrt[0] - 1, y_ref + substrt[1] - 1)
    return x_ref, y_ref, float(v2), float(v3)


def fallback_distortion(scale: float, full_shape: tuple[int, int], v2: float, v3: float, yang: float) -> Model:
    """Distortion-free detector (a detector without a DISTORTION reference, e.g. MIRI MRS)."""
    ny, nx = full_shape
    centre = Pointing(0.0, 0.0, v2, v3, 0.0, yang, VPARITY)
    return linear_distortion(centre, scale, ((nx - 1) / 2.0, (ny - 1) / 2.0))


def exposure_pointing(*, target: tuple[float, float], roll: float, v3yangle: float, distortion: Model,
                      substrt: tuple[int, int], shape: tuple[int, int], dither_arcsec: tuple[float, float],
                      filter_offset: tuple[float, float], error_arcsec: float, seed: int,
                      pixel_scale: float, va_scale: float = 1.0,
                      ref_pixel: tuple[float, float] | None = None) -> ExposurePointing:
    """Header and true pointing of an exposure of a window (``substrt``, ``shape`` (ny, nx));
    the dither (arcsec) moves the target by ``dither / pixel_scale`` pixels along +x/+y."""
    x_ref, y_ref, v2, v3 = aperture_of(distortion, substrt, shape, ref_pixel)
    nominal = Pointing(target[0], target[1], v2, v3, roll, v3yangle, VPARITY, va_scale)
    nominal_wcs = exposure_wcs(nominal, distortion, shape=shape, substrt=substrt)
    header = dithered(nominal, nominal_wcs, (x_ref, y_ref), (dither_arcsec[0] / pixel_scale,
                                                              dither_arcsec[1] / pixel_scale))
    truth = perturbed(header, error_arcsec, np.random.default_rng(zlib.crc32(f"pointing/{seed}".encode())))

    def wcs_of(p: Pointing) -> WCS:
        return exposure_wcs(p, distortion, shape=shape, substrt=substrt, offset=filter_offset)

    return ExposurePointing(header, truth, wcs_of(truth), wcs_of(header))


def tan_cards(wcs: WCS, shape: tuple[int, int]) -> fits.Header:
    """A plain TAN FITS WCS fitted to a gwcs over a window (what raw files carry: a linear
    approximation about the aperture), via astropy's ``fit_wcs_from_points``."""
    ny, nx = shape
    gy, gx = np.mgrid[0:ny - 1:5j, 0:nx - 1:5j]
    ra, dec = wcs(gx.ravel(), gy.ravel(), with_bounding_box=False)
    fitted = fit_wcs_from_points((gx.ravel(), gy.ravel()), SkyCoord(ra * u.deg, dec * u.deg))
    return fitted.to_header()
