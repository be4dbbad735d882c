"""The output grid of resample: a tangent-plane (TAN) WCS that covers every input footprint.

Two constructions, both following jwst resample's rules (jwst_spec §4.1): the orientation and
pixel scale are those of the first input unless ``rotation`` / ``pixel_scale`` /
``pixel_scale_ratio`` say otherwise; the reference point (CRVAL) is the centre of the inputs'
footprints unless ``crval`` is given; the shape covers the footprints unless ``output_shape``
is given.

- :func:`footprint_grid` is jwst 3.0's own (stcal ``wcs_from_sregions``) and resample's
  default: footprints are the S_REGION polygons (the corners of each WCS's valid area, so
  MIRI's reference columns are left out), CRVAL the middle of their extent in unit-vector
  space, the orientation the first input's ROLL_REF / V3I_YANG / VPARITY, the scale measured
  at its (RA_REF, DEC_REF); the lowest footprint corner falls on the centre of pixel 0 and the
  size is the extent rounded to the nearest pixel.  The same inputs give jwst's shape, CRPIX
  and CRVAL.  Because corners land on pixel centres, half an output pixel on the low sides is
  empty and up to about half an input pixel on the far sides falls off the grid, as in jwst.
- :func:`output_grid`, for WCSs without pointing keywords (or on request): orientation from
  the first input's local Jacobian, CRVAL the mean direction of densely sampled edges, and a
  shape that contains every input pixel edge.

All pixel coordinates here are 0-based, (x, y) order; array shapes (ny, nx).

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

from ...wcs import Pointing

__all__ = ["OutputGrid", "GridRequest", "output_grid", "footprint_grid", "parse_s_region", "footprint", "sky_center",
           "extent_center", "local_jacobian", "orientation", "aperture_orientation", "scale_at", "to_plane",
           "mean_pixel_area"]

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
        Points every <= 16 pixels around the border of the valid area (the gwcs's bounding
        box, else the image) at pixel edges, so the footprint includes whole edge pixels even
        under distortion.
    """
    (x0, x1), (y0, y1) = _valid_edges(wcs, shape)
    xs = np.unique(np.r_[np.arange(x0, x1, _EDGE_STEP), x1])
    ys = np.unique(np.r_[np.arange(y0, y1, _EDGE_STEP), y1])
    x = np.r_[xs, np.full(ys.size, x1), xs[::-1], np.full(ys.size, x0)]
    y = np.r_[np.full(xs.size, y0), ys, np.full(xs.size, y1), ys[::-1]]
    ra, dec = _without_bbox(wcs, x, y)
    good = np.isfinite(ra) & np.isfinite(dec)
    return np.asarray(ra)[good], np.asarray(dec)[good]


def _valid_edges(wcs, shape: tuple[int, int]) -> tuple[tuple[float, float], tuple[float, float]]:
    """Pixel-edge ``((x0, x1), (y0, y1))`` of an image's valid area: a gwcs's bounding box
    (MIRI imager: the reference columns left out, as jwst's footprints do), else the image."""
    ny, nx = shape
    box = getattr(wcs, "bounding_box", None)
    if box is None:
        return (-0.5, nx - 0.5), (-0.5, ny - 0.5)
    (x0, x1), (y0, y1) = box.bounding_box(order="F")
    return (float(x0), float(x1)), (float(y0), float(y1))


def _without_bbox(wcs, x, y):
    # Pixel edges lie half a pixel outside a gwcs bounding box; evaluate without it.
    try:
        return wcs(x, y, with_bounding_box=False)
    except TypeError:  # not a gwcs
        return wcs.pixel_to_world_values(x, y)


def mean_pixel_area(wcs, shape: tuple[int, int]) -> float:
    """Mean solid angle, deg^2, of the pixels of a WCS's valid area: the area of its border
    (:func:`footprint`, in the tangent plane about its centre) over the number of pixels
    inside (jwst/stcal ``compute_mean_pixel_area``, which jwst uses for the input scale when
    ``pixel_scale`` is given)."""
    ra, dec = footprint(wcs, shape)
    xi, eta = to_plane(ra, dec, sky_center(ra, dec))
    area = 0.5 * abs(float(np.dot(xi, np.roll(eta, -1)) - np.dot(eta, np.roll(xi, -1))))
    (x0, x1), (y0, y1) = _valid_edges(wcs, shape)
    return area / ((x1 - x0) * (y1 - y0))


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


# --------------------------------------------------------- jwst 3.0's grid from S_REGIONs

def parse_s_region(text: str) -> np.ndarray:
    """The (N, 2) RA, Dec vertices (deg) of an S_REGION ``POLYGON ICRS ...`` string.

    Raises
    ------
    ValueError
        Not an even number of numbers, or fewer than three vertices.
    """
    numbers = np.array([float(v) for v in str(text).replace("POLYGON", " ").replace("ICRS", " ").split()])
    if numbers.size % 2 or numbers.size < 6:
        raise ValueError(f"S_REGION is not a polygon: {text!r}")
    return numbers.reshape(-1, 2)


def extent_center(ra: np.ndarray, dec: np.ndarray) -> tuple[float, float]:
    """jwst's fiducial: the direction of the middle of the points' extent along each
    Cartesian axis (the bounding-box centre of their unit vectors), deg."""
    r, d = np.radians(ra), np.radians(dec)
    vec = [np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)]
    x, y, z = ((float(v.max()) + float(v.min())) / 2.0 for v in vec)
    return math.degrees(math.atan2(y, x)) % 360.0, math.degrees(math.atan2(z, math.hypot(x, y)))


def aperture_orientation(pointing: Pointing, rotation_deg: float | None = None) -> np.ndarray:
    """jwst's output PC matrix from the first input's aperture: the angle ROLL_REF - VPARITY *
    V3I_YANG (or ``rotation_deg``, the position angle of +y), x flipped by VPARITY."""
    yang = math.radians(pointing.v3yangle)
    roll = math.radians(pointing.roll_ref) if rotation_deg is None else math.radians(rotation_deg) + pointing.vparity * yang
    angle = roll - pointing.vparity * yang
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[pointing.vparity * c, s], [-pointing.vparity * s, c]])


def scale_at(wcs, ra: float, dec: float) -> float:
    """Pixel scale (deg) of a WCS at a sky position: the geometric mean of the angular lengths
    of one-pixel steps along x and y there (jwst/stcal ``compute_scale``)."""
    x, y = (float(v) for v in wcs.invert(ra, dec, with_bounding_box=False))
    lon, lat = _without_bbox(wcs, np.array([x, x + 1.0, x]), np.array([y, y, y + 1.0]))
    points = coord.SkyCoord(np.asarray(lon), np.asarray(lat), unit="deg")
    return math.sqrt(points[0].separation(points[1]).deg * points[0].separation(points[2]).deg)


@dataclass(frozen=True)
class GridRequest:
    """What a user may fix of the output grid (jwst resample parameters; None: computed).

    Attributes
    ----------
    pixel_scale_ratio : float
        Output / input pixel scale (ignored when ``pixel_scale`` is given).
    pixel_scale : float or None
        Output pixel scale, arcsec.
    rotation : float or None
        Position angle of the output +y axis, deg east of north.
    crpix : (x, y) or None
        0-based reference pixel.
    crval : (ra, dec) or None
        Reference point, deg.
    output_shape : (ny, nx) or None
        Output shape.
    """

    pixel_scale_ratio: float = 1.0
    pixel_scale: float | None = None
    rotation: float | None = None
    crpix: tuple[float, float] | None = None
    crval: tuple[float, float] | None = None
    output_shape: tuple[int, int] | None = None


def footprint_grid(footprints: Sequence[np.ndarray], ref_wcs, pointing: Pointing,
                   request: GridRequest = GridRequest()) -> OutputGrid:
    """jwst 3.0's output grid (stcal ``wcs_from_sregions``) from the inputs' S_REGIONs.

    Parameters
    ----------
    footprints : sequence of (N, 2) arrays
        RA, Dec vertices (deg) of every input (:func:`parse_s_region`).
    ref_wcs : gwcs.WCS
        The first input's WCS (its pixel scale at RA_REF, DEC_REF sets the output's).
    pointing : Pointing
        The first input's RA_REF, DEC_REF, ROLL_REF, V3I_YANG, VPARITY.
    request : GridRequest
        Scale, orientation, reference point and shape the user fixed.

    Returns
    -------
    OutputGrid

    Raises
    ------
    ValueError
        No footprints, or a computed shape smaller than 2 x 2.
    """
    if not len(footprints):
        raise ValueError("resample needs at least one input footprint")
    points = np.vstack([np.asarray(f, float) for f in footprints])
    r = request
    center = tuple(float(v) for v in r.crval) if r.crval is not None else extent_center(points[:, 0], points[:, 1])
    scale = (r.pixel_scale / 3600.0 if r.pixel_scale
             else scale_at(ref_wcs, pointing.ra_ref, pointing.dec_ref) * r.pixel_scale_ratio)
    cd = aperture_orientation(pointing, r.rotation) * scale
    u_pix, v_pix = np.linalg.solve(cd, np.vstack(to_plane(points[:, 0], points[:, 1], center)))
    shape, ref = _corner_extent(u_pix, v_pix, r.crpix, r.output_shape)
    if min(shape) < 2:
        raise ValueError(f"computed output shape {shape} is too small")
    return OutputGrid(crval=center, crpix=ref, cd=cd, shape=shape)


def _corner_extent(u_pix, v_pix, crpix, output_shape):
    """jwst's shape and 0-based CRPIX from footprint corners (pixels from CRVAL): the lowest
    corner at pixel 0 (or CRVAL at ``crpix``), the size the far corner rounded to the nearest
    pixel."""
    ref = (float(-u_pix.min()), float(-v_pix.min())) if crpix is None else (float(crpix[0]), float(crpix[1]))
    if output_shape is not None:
        return (int(output_shape[0]), int(output_shape[1])), ref
    # int(d + 0.5) as stcal: the nearest integer for the (positive) far-corner offset
    return (int(v_pix.max() + ref[1] + 0.5), int(u_pix.max() + ref[0] + 0.5)), ref
