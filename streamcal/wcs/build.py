"""The imaging gwcs of an exposure, frame by frame as jwst's ``assign_wcs`` builds it.

Pipeline (frames and units)::

    detector (pix, 0-based x, y)
      -- distortion: subarray offset, filter offset, detector -> V2/V3 -->
    v2v3 (arcsec)
      -- velocity-aberration scale about (V2_REF, V3_REF) -->
    v2v3vacorr (arcsec)
      -- rotation: (V2_REF, V3_REF) -> (RA_REF, DEC_REF), V3 at position angle ROLL_REF -->
    world (ICRS ra, dec, deg)

The sky rotation is jwst's ``v23tosky``: V2/V3 as a unit vector, rotated by the Euler
sequence (z: V2_REF, y: -V3_REF, x: ROLL_REF, y: DEC_REF, z: -RA_REF), back to spherical.
"""

from __future__ import annotations

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import Model
from astropy.modeling.models import AffineTransformation2D, Identity, Scale, Shift
from astropy.modeling.rotations import RotationSequence3D
from gwcs import WCS
from gwcs import coordinate_frames as cf
from gwcs.geometry import CartesianToSpherical, SphericalToCartesian

from .pointing import Pointing


def frames() -> dict[str, cf.CoordinateFrame]:
    """The four frames of the imaging WCS, keyed by name."""
    arcsec = (u.arcsec, u.arcsec)
    return {"detector": cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix)),
            "v2v3": cf.Frame2D(name="v2v3", axes_order=(0, 1), axes_names=("v2", "v3"), unit=arcsec),
            "v2v3vacorr": cf.Frame2D(name="v2v3vacorr", axes_order=(0, 1), axes_names=("v2", "v3"),
                                     unit=arcsec),
            "world": cf.CelestialFrame(reference_frame=coord.ICRS(), name="world",
                                       unit=(u.deg, u.deg), axes_names=("lon", "lat"))}


def v2v3_to_sky(pointing: Pointing) -> Model:
    """V2/V3 (arcsec) -> ICRS (ra, dec) deg.  (V2_REF, V3_REF) goes exactly to
    (RA_REF, DEC_REF); the +V3 direction there points at position angle ROLL_REF."""
    angles = [pointing.v2_ref / 3600.0, -pointing.v3_ref / 3600.0, pointing.roll_ref,
              pointing.dec_ref, -pointing.ra_ref]
    model = ((Scale(1 / 3600.0) & Scale(1 / 3600.0)) | SphericalToCartesian(wrap_lon_at=180)
             | RotationSequence3D(angles, axes_order="zyxyz") | CartesianToSpherical(wrap_lon_at=360))
    model.name = "v23tosky"
    return model


def velocity_aberration(va_scale: float, v2_ref: float, v3_ref: float) -> Model:
    """V2/V3 -> V2/V3 scaled by ``va_scale`` about the reference point (arcsec in and out):
    v' = v_ref + s (v - v_ref).  Identity when the scale is 1."""
    if va_scale == 1.0:
        return Identity(2, name="dva_identity")
    if not va_scale > 0:
        raise ValueError(f"velocity aberration scale must be positive, got {va_scale}")
    model = ((Scale(va_scale) & Scale(va_scale))
             | (Shift((1 - va_scale) * v2_ref) & Shift((1 - va_scale) * v3_ref)))
    model.name = "dva_correction"
    return model


def ideal_to_v2v3(v2_ref: float, v3_ref: float, v3yangle: float, vparity: int) -> Model:
    """Aperture ideal frame (arcsec, origin at the reference point) -> V2/V3 arcsec, the
    SIAF planar relation: V2 = V2_REF + P X cos(a) + Y sin(a), V3 = V3_REF - P X sin(a) + Y cos(a),
    a = V3I_YANG, P = VPARITY."""
    a = np.deg2rad(v3yangle)
    c, s = np.cos(a), np.sin(a)
    matrix = np.array([[vparity * c, s], [-vparity * s, c]])
    model = AffineTransformation2D(matrix=matrix, translation=[v2_ref, v3_ref])
    model.name = "idl2v2v3"
    return model


def linear_distortion(pointing: Pointing, pixel_scale: float, crpix: tuple[float, float]) -> Model:
    """Distortion-free detector -> V2/V3: pixels about ``crpix`` (0-based x, y) times
    ``pixel_scale`` (arcsec/pix) give the ideal frame (x along ideal X), then SIAF to V2/V3."""
    to_ideal = ((Shift(-crpix[0]) | Scale(pixel_scale)) & (Shift(-crpix[1]) | Scale(pixel_scale)))
    return to_ideal | ideal_to_v2v3(pointing.v2_ref, pointing.v3_ref, pointing.v3yangle, pointing.vparity)


def detector_offset(dx: float, dy: float) -> Model:
    """Shift pixel coordinates by (dx, dy): subarray -> full frame (SUBSTRT - 1) or a filter
    offset (jwst FilteroffsetModel column/row offsets)."""
    return Shift(dx, name="xshift") & Shift(dy, name="yshift")


def imaging_wcs(pointing: Pointing, distortion: Model | None = None, *,
                shape: tuple[int, int] | None = None, pixel_scale: float | None = None,
                crpix: tuple[float, float] | None = None,
                offset: tuple[float, float] = (0.0, 0.0)) -> WCS:
    """Build the imaging gwcs: detector -> v2v3 -> v2v3vacorr -> world.

    Parameters
    ----------
    pointing : Pointing
        RA_REF ... VA_SCALE of the exposure.
    distortion : astropy Model, optional
        Full-frame detector (0-based x, y pix) -> V2/V3 (arcsec), e.g. a distortion reference
        file's ``model``.  None: a distortion-free one from ``pixel_scale`` and ``crpix``.
    shape : (ny, nx), optional
        Image shape; sets the bounding box (pixel centres 0..n-1, edges at -0.5, n-0.5).
    pixel_scale : float
        Arcsec per pixel, needed when ``distortion`` is None.
    crpix : (x, y), optional
        0-based pixel of the reference point (full frame) for the distortion-free model;
        default: the centre of ``shape``.
    offset : (dx, dy)
        Added to the image pixel coordinates before the distortion: (SUBSTRT1 - 1,
        SUBSTRT2 - 1) for a subarray, plus any filter offset.

    Returns
    -------
    gwcs.WCS
        ``wcs(x, y) -> (ra, dec)`` deg; ``wcs.invert(ra, dec) -> (x, y)``.

    Examples
    --------
    >>> p = Pointing(80.0, -69.5, 86.1, -493.2, 30.0)
    >>> w = imaging_wcs(p, shape=(64, 64), pixel_scale=0.031)
    >>> [round(float(v), 9) for v in w(31.5, 31.5)]
    [80.0, -69.5]
    """
    if distortion is None:
        if pixel_scale is None:
            raise ValueError("a distortion-free WCS needs pixel_scale")
        if crpix is None:
            if shape is None:
                raise ValueError("a distortion-free WCS needs crpix or shape")
            crpix = ((shape[1] - 1) / 2.0 + offset[0], (shape[0] - 1) / 2.0 + offset[1])
        distortion = linear_distortion(pointing, pixel_scale, crpix)
    if offset[0] or offset[1]:
        distortion = detector_offset(*offset) | distortion
    f = frames()
    wcs = WCS([(f["detector"], distortion),
               (f["v2v3"], velocity_aberration(pointing.va_scale, pointing.v2_ref, pointing.v3_ref)),
               (f["v2v3vacorr"], v2v3_to_sky(pointing)),
               (f["world"], None)])
    if shape is not None:
        set_shape(wcs, shape)
    return wcs


def set_shape(wcs: WCS, shape: tuple[int, int]) -> None:
    """Bounding box (x, y edges) and array shape of an image of ``shape`` (ny, nx)."""
    ny, nx = shape
    wcs.bounding_box = ((-0.5, nx - 0.5), (-0.5, ny - 0.5))
    wcs.array_shape = (ny, nx)
