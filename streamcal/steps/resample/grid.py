"""The output grid of resample: a tangent-plane (TAN) WCS that covers every input footprint.

Rules (jwst resample, jwst_spec §4.1): the orientation and pixel scale are those of the first
input unless ``rotation`` / ``pixel_scale`` / ``pixel_scale_ratio`` say otherwise; the
reference point (CRVAL) is the centre of the union of the footprints unless ``crval`` is
given; the shape covers every footprint unless ``output_shape`` is given (then CRPIX defaults
to its centre).  All pixel coordinates here are 0-based, (x, y) order; array shapes (ny, nx).

The grid is a pure FITS TAN projection, so it is exactly representable both as a gwcs (used
for drizzle pixel maps) and as FITS keywords (written into the i2d SCI header).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.io import fits
from astropy.modeling import models as m
from astropy.wcs import WCS as FitsWCS
from gwcs import WCS
from gwcs import coordinate_frames as cf

#: Spacing, input pixels, of the points sampled along each input's edges for its footprint.
_EDGE_STEP = 16
#: A footprint may stick out of the grid by this much (pixels) without growing it: 1e-3 px
#: of a pixel carries no flux worth a row, and float/sphere round-off is ~1e-6 px.
_SLACK = 1e-3


@dataclass(frozen=True)
class OutputGrid:
    """A TAN output grid.

    Attributes
    ----------
    crval : (float, float)
        RA, Dec (deg) of the reference point.
    crpix : (float, float)
        0-based (x, y) pixel of the reference point.
    cd : ndarray, (2, 2), float64
        deg / pixel: ``[xi, eta] = cd @ [x - crpix_x, y - crpix_y]`` in the tangent plane
        (xi to the east, eta to the north).
    shape : (int, int)
        ``(ny, nx)`` of the output arrays.
    """

    crval: tuple[float, float]
    crpix: tuple[float, float]
    cd: np.ndarray
    shape: tuple[int, int]

    @property
    def pixel_scale_deg(self) -> float:
        """Side of a (square) output pixel, deg."""
        return math.sqrt(abs(np.linalg.det(self.cd)))

    @property
    def pixel_area_sr(self) -> float:
        """Solid angle of an output pixel at the tangent point, sr."""
        return abs(np.linalg.det(self.cd)) * (math.pi / 180.0) ** 2

    def gwcs(self) -> WCS:
        """This grid as a gwcs: 0-based (x, y) -> ICRS (ra, dec) deg, with its inverse."""
        forward = (m.Shift(-self.crpix[0]) & m.Shift(-self.crpix[1])
                   | m.AffineTransformation2D(matrix=self.cd, translation=[0.0, 0.0])
                   | m.Pix2Sky_TAN()
                   | m.RotateNative2Celestial(self.crval[0], self.crval[1], 180.0))
        detector = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
        world = cf.CelestialFrame(name="world", reference_frame=coord.ICRS(), unit=(u.deg, u.deg))
        out = WCS([(detector, forward), (world, None)])
        ny, nx = self.shape
        out.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
        out.pixel_shape = (nx, ny)
        out.array_shape = (ny, nx)
        return out

    def fits_wcs(self) -> FitsWCS:
        """This grid as an astropy FITS WCS (1-based CRPIX, CD matrix)."""
        w = FitsWCS(naxis=2)
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.cunit = ["deg", "deg"]
        w.wcs.crval = list(self.crval)
        w.wcs.crpix = [self.crpix[0] + 1.0, self.crpix[1] + 1.0]
        w.wcs.cd = np.asarray(self.cd)
        w.pixel_shape = (self.shape[1], self.shape[0])
        return w

    def fits_header(self) -> fits.Header:
        """FITS TAN keywords for the SCI header (what astropy/ds9 read), plus S_REGION."""
        header = self.fits_wcs().to_header(relax=False)
        header["S_REGION"] = self.s_region()  # long value: no comment, nothing to truncate
        return header

    def s_region(self) -> str:
        """The jwst S_REGION footprint: the outer corners of the grid on the sky."""
        ny, nx = self.shape
        ra, dec = self.gwcs()(np.array([-0.5, nx - 0.5, nx - 0.5, -0.5]),
                              np.array([-0.5, -0.5, ny - 0.5, ny - 0.5]), with_bounding_box=False)
        return "POLYGON ICRS " + " ".join(f"{a:.9f} {d:.9f}" for a, d in zip(ra, dec))

    @classmethod
    def from_fits_header(cls, header: fits.Header, shape: tuple[int, int]) -> OutputGrid:
        """The grid described by a FITS TAN header (CD, or PC x CDELT).

        Raises
        ------
        ValueError
            Not a plain RA---TAN / DEC--TAN header.
        """
        w = FitsWCS(header, naxis=2)
        if list(w.wcs.ctype) != ["RA---TAN", "DEC--TAN"] or w.sip is not None:
            raise ValueError(f"not a plain TAN header (CTYPE {list(w.wcs.ctype)})")
        cd = np.asarray(w.pixel_scale_matrix, dtype=np.float64)
        crpix = (float(w.wcs.crpix[0]) - 1.0, float(w.wcs.crpix[1]) - 1.0)
        return cls(crval=(float(w.wcs.crval[0]), float(w.wcs.crval[1])), crpix=crpix, cd=cd,
                   shape=(int(shape[0]), int(shape[1])))


# ------------------------------------------------------------------------- tangent plane

def to_plane(ra: np.ndarray, dec: np.ndarray, crval: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Gnomonic projection about ``crval``: (ra, dec) deg -> (xi, eta) deg (xi east, eta north)."""
    native = m.RotateCelestial2Native(crval[0], crval[1], 180.0)
    return m.Sky2Pix_TAN()(*native(ra, dec))


def footprint(wcs, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """RA, Dec (deg) of points along the outer pixel edges of an image.

    Parameters
    ----------
    wcs : gwcs.WCS
        0-based pixel -> world.
    shape : (ny, nx)
        Image shape.

    Returns
    -------
    ra, dec : ndarray, float64
        Points every <= 16 pixels around the border at the pixel edges (-0.5, n - 0.5), so the
        footprint includes whole edge pixels even under distortion.
    """
    ny, nx = shape
    xs = np.unique(np.r_[np.arange(-0.5, nx - 0.5, _EDGE_STEP), nx - 0.5])
    ys = np.unique(np.r_[np.arange(-0.5, ny - 0.5, _EDGE_STEP), ny - 0.5])
    x = np.r_[xs, np.full(ys.size, nx - 0.5), xs[::-1], np.full(ys.size, -0.5)]
    y = np.r_[np.full(xs.size, -0.5), ys, np.full(xs.size, ny - 0.5), ys[::-1]]
    ra, dec = _without_bbox(wcs, x, y)
    good = np.isfinite(ra) & np.isfinite(dec)
    return np.asarray(ra)[good], np.asarray(dec)[good]


def _without_bbox(wcs, x, y):
    # Pixel edges lie half a pixel outside a gwcs bounding box; evaluate without it.
    try:
        return wcs(x, y, with_bounding_box=False)
    except TypeError:  # not a gwcs
        return wcs.pixel_to_world_values(x, y)


def sky_center(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float]:
    """Centre of a set of sky points: the direction of the mean unit vector (wraps at RA 0)."""
    r, d = np.radians(ra), np.radians(dec)
    vec = np.array([np.mean(np.cos(d) * np.cos(r)), np.mean(np.cos(d) * np.sin(r)), np.mean(np.sin(d))])
    lon = math.degrees(math.atan2(vec[1], vec[0])) % 360.0
    lat = math.degrees(math.atan2(vec[2], math.hypot(vec[0], vec[1])))
    return lon, lat


def local_jacobian(wcs, x: float, y: float) -> tuple[np.ndarray, tuple[float, float]]:
    """d(xi, eta)/d(x, y), deg/pixel, of a WCS at pixel (x, y), and the sky position there."""
    center = tuple(float(v) for v in _without_bbox(wcs, x, y))
    px = np.array([x + 0.5, x - 0.5, x, x])
    py = np.array([y, y, y + 0.5, y - 0.5])
    xi, eta = to_plane(*_without_bbox(wcs, px, py), center)
    jac = np.array([[xi[0] - xi[1], xi[2] - xi[3]], [eta[0] - eta[1], eta[2] - eta[3]]])
    return jac, center


def orientation(rotation_deg: float, parity: int) -> np.ndarray:
    """PC matrix whose +y axis points at position angle ``rotation_deg`` (from north through
    east); ``parity`` -1 puts east to the left of north (the sky as seen, JWST imagers)."""
    c, s = math.cos(math.radians(rotation_deg)), math.sin(math.radians(rotation_deg))
    return np.array([[-c, s], [s, c]]) if parity < 0 else np.array([[c, s], [-s, c]])


def _nearest_orthogonal(jac: np.ndarray) -> np.ndarray:
    # Polar decomposition: the rotation (or reflection) closest to the local Jacobian, i.e. the
    # detector's orientation on the sky without its skew and scale.
    left, _, right = np.linalg.svd(jac)
    return left @ right


# ------------------------------------------------------------------------------ the grid

def output_grid(wcs_list: Sequence, shapes: Sequence[tuple[int, int]], *,
                pixel_scale_ratio: float = 1.0, pixel_scale: float | None = None,
                rotation: float | None = None, crpix: tuple[float, float] | None = None,
                crval: tuple[float, float] | None = None,
                output_shape: tuple[int, int] | None = None) -> OutputGrid:
    """The TAN grid covering every input.

    Parameters
    ----------
    wcs_list : sequence of gwcs.WCS
        Input WCSs (0-based pixel -> ICRS deg); the first sets orientation and scale.
    shapes : sequence of (ny, nx)
        Input image shapes.
    pixel_scale_ratio : float
        Output / input pixel scale (ignored when ``pixel_scale`` is given).
    pixel_scale : float or None
        Output pixel scale, arcsec.
    rotation : float or None
        Position angle of the output +y axis, deg east of north; None keeps the first
        input's orientation (and its parity).
    crpix : (x, y) or None
        0-based reference pixel.
    crval : (ra, dec) or None
        Reference point, deg; default the centre of all footprints.
    output_shape : (ny, nx) or None
        Output shape; default: just large enough for every footprint.

    Returns
    -------
    OutputGrid

    Raises
    ------
    ValueError
        No inputs, or a computed shape smaller than 2 x 2.
    """
    if not wcs_list:
        raise ValueError("resample needs at least one input WCS")
    ny0, nx0 = shapes[0]
    jac, _ = local_jacobian(wcs_list[0], (nx0 - 1) / 2.0, (ny0 - 1) / 2.0)
    scale_in = math.sqrt(abs(np.linalg.det(jac)))
    scale = pixel_scale / 3600.0 if pixel_scale else scale_in * pixel_scale_ratio
    parity = -1 if np.linalg.det(jac) < 0 else 1
    pc = _nearest_orthogonal(jac) if rotation is None else orientation(rotation, parity)
    cd = pc * scale
    points = [footprint(w, s) for w, s in zip(wcs_list, shapes)]
    ra = np.concatenate([p[0] for p in points])
    dec = np.concatenate([p[1] for p in points])
    center = tuple(float(v) for v in crval) if crval is not None else sky_center(ra, dec)
    u_pix, v_pix = np.linalg.solve(cd, np.vstack(to_plane(ra, dec, center)))
    shape, ref = _extent(u_pix, v_pix, crpix, output_shape)
    if min(shape) < 2:
        raise ValueError(f"computed output shape {shape} is too small")
    return OutputGrid(crval=center, crpix=ref, cd=cd, shape=shape)


def _extent(u_pix, v_pix, crpix, output_shape):
    """Output shape (ny, nx) and 0-based CRPIX from footprint offsets (pixels from CRVAL)."""
    if output_shape is not None:
        ny, nx = (int(n) for n in output_shape)
        ref = tuple(crpix) if crpix is not None else ((nx - 1) / 2.0, (ny - 1) / 2.0)
        return (ny, nx), (float(ref[0]), float(ref[1]))
    if crpix is not None:
        # the grid starts at pixel 0 and reaches the far edge of every footprint
        nx = math.ceil(crpix[0] + u_pix.max() + 0.5 - _SLACK)
        ny = math.ceil(crpix[1] + v_pix.max() + 0.5 - _SLACK)
        return (ny, nx), (float(crpix[0]), float(crpix[1]))
    # footprint edges are pixel edges: the lowest edge maps to -0.5
    nx = math.ceil(u_pix.max() - u_pix.min() - _SLACK)
    ny = math.ceil(v_pix.max() - v_pix.min() - _SLACK)
    return (ny, nx), (float(-u_pix.min() - 0.5), float(-v_pix.min() - 0.5))
