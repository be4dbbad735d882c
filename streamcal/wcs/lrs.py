"""The MIRI LRS (P750L prism) gwcs of a fixed-slit or slitless exposure, frame by frame as
jwst 3.0's ``assign_wcs`` builds it (``jwst.assign_wcs.miri.lrs``).

Pipeline (frames and units)::

    detector (pix, 0-based x, y of this subarray)
      -- x - dx(y) about the aperture reference -> alpha = pscale * (x - dx(y) - x0), beta = 0;
         lambda(y) -->
    alpha_beta (alpha, beta arcsec; lambda um)
      -- (x0 + alpha / pscale, y0 + beta / pscale) through the imager DISTORTION -->
    v2v3 (arcsec; um)
      -- velocity-aberration scale -->
    v2v3vacorr (arcsec; um)
      -- V2/V3 -> sky rotation -->
    world (ICRS ra, dec deg; lambda um)

``dx(y)`` (the trace's column offset) and ``lambda(y)`` are scipy smoothing splines
(``UnivariateSpline``, smoothing factor ``s = 0.002``) fitted to the specwcs WAVETABLE and
evaluated back at its rows, then interpolated linearly between rows (``Tabular1D``, NaN
outside them).  ``(x0, y0)`` is the aperture reference point (specwcs IMX/IMY for the slit,
IMXSLTL/IMYSLTL for slitless; 1-based full-frame pixels in the file).  ``pscale`` is the
distance in V2/V3 between the distortion's images of ``(x0, y0)`` and ``(x0 + 1, y0)``,
arcsec/pix.  The bounding box: slit -- the columns of the WAVETABLE corners and the rows of
the table; slitless -- the subarray's columns without its 4 reference columns and the rows
of the table corners.  A barycentric VELOSYS (m/s) divides lambda by ``1 + v / c``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import Model, bind_bounding_box
from astropy.modeling import models as m
from gwcs import WCS
from gwcs import coordinate_frames as cf
from scipy.interpolate import UnivariateSpline

from ..errors import ReferenceFileError
from ..refs.model import RefData
from .build import v2v3_to_sky, velocity_aberration
from .pointing import Pointing

__all__ = ["LrsSpecwcs", "WavetableCorners", "LRS_EXP_TYPES", "SPLINE_SMOOTHING", "lrs_wcs", "lrs_frames", "reference_point",
           "wavelength_map", "slit_vertices_world"]

#: The two LRS exposure types and whether each is the slit one.
LRS_EXP_TYPES = {"MIR_LRS-FIXEDSLIT": True, "MIR_LRS-SLITLESS": False}
#: Smoothing factor of jwst's splines through the WAVETABLE (``UnivariateSpline(s=...)``).
SPLINE_SMOOTHING = 0.002
#: Left reference columns of the SLITLESSPRISM subarray, left out of the slitless box.
SLITLESS_REFERENCE_COLUMNS = 4
#: Speed of light, m/s.
C_M_PER_S = 299792458.0
_CORNERS = ("x0", "y0", "x1", "y1", "x2", "y2", "x3", "y3")


@dataclass(frozen=True, eq=False)
class WavetableCorners:
    """The WAVETABLE box of each wavelength element, pixels relative to the reference point:
    ``(x0, y0)`` upper left, ``(x1, y1)`` upper right, ``(x2, y2)`` lower right, ``(x3, y3)``
    lower left (float64 arrays, one value per row of the table)."""

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    x2: np.ndarray
    y2: np.ndarray
    x3: np.ndarray
    y3: np.ndarray


@dataclass(frozen=True, eq=False)
class LrsSpecwcs:
    """A MIRI LRS SPECWCS reference file (stdatamodels ``MiriLRSSpecwcsModel``).

    Attributes
    ----------
    x_ref, y_ref : float
        IMX, IMY: slit reference point, 1-based full-frame pixels.
    x_ref_slitless, y_ref_slitless : float
        IMXSLTL, IMYSLTL: slitless reference point, 1-based full-frame pixels.
    v2_vert, v3_vert : tuple of 4 floats, or None
        V2VERTn/V3VERTn: the slit corners, arcsec (S_REGION of fixed-slit exposures).
    x_center, y_center : ndarray, float64
        WAVETABLE trace centre per wavelength element, pixels relative to the reference point.
    wavelength : ndarray, float64
        WAVETABLE wavelength, micron.
    corners : WavetableCorners
        WAVETABLE corners of each element's box, pixels relative to the reference point.
    """

    x_ref: float
    y_ref: float
    x_ref_slitless: float
    y_ref_slitless: float
    v2_vert: tuple[float, ...] | None
    v3_vert: tuple[float, ...] | None
    x_center: np.ndarray
    y_center: np.ndarray
    wavelength: np.ndarray
    corners: WavetableCorners

    @classmethod
    def from_refdata(cls, ref: RefData) -> LrsSpecwcs:
        """Read the primary keywords and the WAVETABLE of a specwcs FITS file.

        Raises
        ------
        ReferenceFileError
            No WAVETABLE, a missing column or a missing IMX/IMY/IMXSLTL/IMYSLTL keyword.
        """
        table = ref.tables.get("WAVETABLE")
        if table is None:
            raise ReferenceFileError(f"{ref.path}: not a MIRI LRS specwcs (no WAVETABLE extension)")
        names = {n.lower(): n for n in table.dtype.names}
        missing = [c for c in ("x_center", "y_center", "wavelength", *_CORNERS) if c not in names]
        keys = [k for k in ("IMX", "IMY", "IMXSLTL", "IMYSLTL") if ref.header.get(k) is None]
        if missing or keys:
            raise ReferenceFileError(f"{ref.path}: specwcs lacks {', '.join(missing + keys)}")

        def col(name: str) -> np.ndarray:
            return np.asarray(table[names[name]], np.float64)

        verts = [[ref.header.get(f"{axis}VERT{i}") for i in range(1, 5)] for axis in ("V2", "V3")]
        v2, v3 = (None if any(v is None for v in vs) else tuple(float(v) for v in vs) for vs in verts)
        h = ref.header
        return cls(float(h["IMX"]), float(h["IMY"]), float(h["IMXSLTL"]), float(h["IMYSLTL"]), v2, v3,
                   col("x_center"), col("y_center"), col("wavelength"),
                   WavetableCorners(*(col(c) for c in _CORNERS)))


def _is_slit(exp_type: str) -> bool:
    try:
        return LRS_EXP_TYPES[exp_type.upper()]
    except KeyError:
        raise ValueError(f"not a MIRI LRS EXP_TYPE: {exp_type}") from None


def _subarray_shift(substrt: tuple[int, int]) -> Model | None:
    """Subarray -> full-frame pixel shift as jwst's ``subarray_transform`` (None for a window
    starting at the first pixel; an Identity on an axis that needs no shift)."""
    if tuple(substrt) == (1, 1):
        return None
    return ((m.Shift(substrt[0] - 1) if substrt[0] != 1 else m.Identity(1))
            & (m.Shift(substrt[1] - 1) if substrt[1] != 1 else m.Identity(1)))


def reference_point(specwcs: LrsSpecwcs, exp_type: str, substrt: tuple[int, int]) -> tuple[float, float]:
    """The aperture reference point, 0-based pixels of the exposure's subarray."""
    if _is_slit(exp_type):
        return specwcs.x_ref - 1, specwcs.y_ref - 1
    return specwcs.x_ref_slitless - substrt[0], specwcs.y_ref_slitless - substrt[1]


def _pixel_scale(subarray_dist: Model, zero: tuple[float, float]) -> float:
    """arcsec/pix along detector x at the reference point (jwst's along-slit scale)."""
    v2c, v3c = subarray_dist(zero[0], zero[1])
    v2o, v3o = subarray_dist(zero[0] + 1, zero[1])
    return float(np.hypot(v2c - v2o, v3c - v3o))


def _smoothed_table(ysub: np.ndarray, values: np.ndarray, name: str) -> m.Tabular1D:
    """A smoothing spline through (y, value), sampled back at the table's rows (the rows run
    towards decreasing y, hence the reversal for the spline, which wants increasing y)."""
    spline = UnivariateSpline(ysub[::-1], values[::-1], s=SPLINE_SMOOTHING)
    return m.Tabular1D(lookup_table=spline(ysub), points=ysub, name=name, bounds_error=False,
                       fill_value=np.nan)


def _bounding_box(specwcs: LrsSpecwcs, slit: bool, zero: tuple[float, float], dx: m.Tabular1D,
                  substrt: tuple[int, int], subsize: tuple[int, int]) -> tuple:
    c = specwcs.corners
    rows = (np.floor(c.y2.min() + zero[1]) - 0.5, np.ceil(c.y0.max() + zero[1]) + 0.5)
    if slit:
        cols = (np.floor(c.x0.min() + zero[0]) - 0.5, np.ceil(c.x1.max() + zero[0]) + 0.5)
        rows = (dx.points[0].min(), dx.points[0].max())
    else:
        cols = (substrt[0] - 1 + SLITLESS_REFERENCE_COLUMNS - 0.5, subsize[0] - 1 + 0.5)
    return cols, rows


def _detector_to_abl(specwcs: LrsSpecwcs, slit: bool, zero: tuple[float, float], pscale: float,
                     substrt: tuple[int, int], subsize: tuple[int, int], velosys: float | None) -> Model:
    """detector (x, y) -> (alpha, beta, lambda), with its inverse and bounding box."""
    ysub = specwcs.y_center + zero[1]
    dx = _smoothed_table(ysub, specwcs.x_center + zero[0] - zero[0], "xshiftref")
    wave: Model = _smoothed_table(ysub, specwcs.wavelength, "waveref")
    if velosys is not None:
        factor = 1.0 / (1.0 + velosys / C_M_PER_S)
        corr = m.Identity(1) * m.Const1D(factor, name="velocity_correction")
        corr.inverse = m.Identity(1) / m.Const1D(factor, name="inv_vel_correction")
        wave = wave | corr
    slit_x = m.Mapping([0], n_inputs=2) - (m.Mapping([1], n_inputs=2) | dx)
    xy = m.Mapping((0, 1, 0, 1)) | slit_x & m.Mapping([1], n_inputs=2)
    alpha = m.Mapping([0], n_inputs=2) | m.Shift(-zero[0]) | m.Polynomial1D(1, c0=0, c1=pscale)
    ab = m.Mapping((0, 1, 0)) | alpha & m.Const1D(0)
    # a shift to the reference point and back: a no-op that carries the reference point in the
    # model's parameters (jwst's pathloss reads it back as offset_1, offset_2)
    ref = m.Shift(-zero[0]) & m.Shift(-zero[1]) | m.Shift(+zero[0]) & m.Shift(+zero[1])
    forward = m.Mapping((0, 1, 0, 1)) | (ref | xy | ab) & (m.Mapping([1], n_inputs=2) | wave)
    lam_to_y = wave.inverse
    to_x = (m.Mapping((0, 2)) | (m.Polynomial1D(1, c0=0, c1=1 / pscale) | m.Shift(zero[0])) & lam_to_y
            | m.Mapping([0], n_inputs=2) + (m.Mapping([1], n_inputs=2) | dx))
    forward.inverse = m.Mapping((0, 1, 2, 0, 1, 2)) | to_x & (m.Mapping([2], n_inputs=3) | lam_to_y)
    bind_bounding_box(forward, _bounding_box(specwcs, slit, zero, dx, substrt, subsize), order="F")
    return forward


def _abl_to_v2v3l(subarray_dist: Model, zero: tuple[float, float], pscale: float) -> Model:
    """(alpha, beta, lambda) -> (v2, v3, lambda) through the imager distortion, with inverse."""
    to_pix = ((m.Polynomial1D(1, c0=0, c1=1 / pscale) | m.Shift(zero[0]))
              & (m.Polynomial1D(1, c0=0, c1=1 / pscale) | m.Shift(zero[1])))
    forward = m.Mapping((0, 1, 2)) | (to_pix | subarray_dist) & m.Identity(1)
    to_ab = ((m.Shift(-zero[0]) | m.Polynomial1D(1, c0=0, c1=pscale))
             & (m.Shift(-zero[1]) | m.Polynomial1D(1, c0=0, c1=pscale)))
    forward.inverse = m.Mapping((0, 1, 2)) | (subarray_dist.inverse | to_ab) & m.Identity(1)
    return forward


def lrs_frames() -> dict[str, cf.CoordinateFrame]:
    """The five frames of the LRS WCS (jwst's names), keyed by name."""
    arcsec, micron = (u.arcsec, u.arcsec), (u.micron,)

    def spec(name: str) -> cf.SpectralFrame:
        return cf.SpectralFrame(name=name, axes_order=(2,), unit=micron, axes_names=("lambda",))

    def v2v3(name: str) -> cf.Frame2D:
        return cf.Frame2D(name=name, axes_order=(0, 1), unit=arcsec, axes_names=("v2", "v3"))

    alpha_beta = cf.Frame2D(name="alpha_beta_spatial", axes_order=(0, 1), unit=arcsec,
                            axes_names=("alpha", "beta"))
    icrs = cf.CelestialFrame(name="icrs", reference_frame=coord.ICRS(), axes_order=(0, 1), unit=(u.deg, u.deg),
                             axes_names=("RA", "DEC"))
    return {"detector": cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix)),
            "alpha_beta": cf.CompositeFrame([alpha_beta, spec("alpha_beta_spectral")], name="alpha_beta"),
            "v2v3": cf.CompositeFrame([v2v3("v2v3_spatial"), spec("spec")], name="v2v3"),
            "v2v3vacorr": cf.CompositeFrame([v2v3("v2v3vacorr_spatial"), spec("spec")], name="v2v3vacorr"),
            "world": cf.CompositeFrame(name="world", frames=[icrs, spec("spec")])}


def lrs_wcs(pointing: Pointing, distortion_model: Model, specwcs: LrsSpecwcs, exp_type: str,
            substrt: tuple[int, int], subsize: tuple[int, int], *, velosys: float | None = None) -> WCS:
    """The LRS gwcs of an exposure: ``wcs(x, y) -> (ra, dec, lambda)`` (deg, deg, micron).

    Parameters
    ----------
    pointing : Pointing
        RA_REF ... VA_SCALE of the exposure.
    distortion_model : astropy Model
        The imager DISTORTION reference file's ``model``: full-frame 0-based pixels -> V2/V3
        arcsec, with an inverse.
    specwcs : LrsSpecwcs
    exp_type : str
        MIR_LRS-FIXEDSLIT or MIR_LRS-SLITLESS.
    substrt, subsize : (int, int)
        SUBSTRT1/2 (1-based first full-frame column/row) and SUBSIZE1/2 of the subarray.
    velosys : float, optional
        VELOSYS, m/s (barycentric correction of the wavelengths); None: none.

    Returns
    -------
    gwcs.WCS
        Frames detector -> alpha_beta -> v2v3 -> v2v3vacorr -> world; its bounding box is
        jwst's (module description).  Outside the trace's rows lambda is NaN.

    Raises
    ------
    ValueError
        ``exp_type`` is not an LRS one.
    """
    slit = _is_slit(exp_type)
    shift = _subarray_shift(substrt)
    # a copy: the reference file's model is cached and shared
    subarray_dist = distortion_model.copy() if shift is None else shift | distortion_model
    zero = reference_point(specwcs, exp_type, substrt)
    pscale = _pixel_scale(subarray_dist, zero)
    f = lrs_frames()
    dva = velocity_aberration(pointing.va_scale, pointing.v2_ref, pointing.v3_ref) & m.Identity(1)
    sky = v2v3_to_sky(pointing) & m.Identity(1)
    return WCS([(f["detector"], _detector_to_abl(specwcs, slit, zero, pscale, substrt, subsize, velosys)),
                (f["alpha_beta"], _abl_to_v2v3l(subarray_dist, zero, pscale)),
                (f["v2v3"], dva), (f["v2v3vacorr"], sky), (f["world"], None)])


def wavelength_map(wcs: WCS, shape: tuple[int, int]) -> np.ndarray:
    """Wavelength of every pixel centre of a ``shape`` (ny, nx) frame, micron, float64; NaN
    outside the WCS's bounding box and off the trace's rows (jwst ``get_wavelengths``)."""
    y, x = np.indices(shape, dtype=np.float64)
    return np.asarray(wcs(x, y, with_bounding_box=True)[2], np.float64)


def slit_vertices_world(wcs: WCS, specwcs: LrsSpecwcs, wavelength: float = 7.0) -> np.ndarray | None:
    """(4, 2) ra, dec of the slit corners V2VERTn/V3VERTn through ``v2v3 -> world`` (the
    fixed-slit S_REGION; the wavelength does not matter); None without the vertices."""
    if specwcs.v2_vert is None or specwcs.v3_vert is None:
        return None
    ra, dec, _ = wcs.transform("v2v3", "world", list(specwcs.v2_vert), list(specwcs.v3_vert), wavelength)
    return np.column_stack([np.mod(ra, 360.0), dec])

