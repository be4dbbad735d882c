"""Grism dispersion of NIRCam and NIRISS wide-field / time-series slitless spectroscopy, from a
SPECWCS reference file (jwst ``NIRCAMGrismModel`` / ``NIRISSGrismModel``), evaluated with numpy.

A spectral trace is parametrised by t in [0, 1].  Per spectral order a SPECWCS holds

- ``displ``: wavelength (um) as a function of t;
- ``dispx``, ``dispy``: trace offset (pixels) from the direct-image position (x0, y0);
- ``invdispl`` (t of wavelength), ``invdispx`` / ``invdispy`` (t of the offset): optional
  inverses (legacy NIRCam files; NIRISS always has ``invdispl``).

Each function is either a polynomial in t alone, or a polynomial in t whose coefficients are
2-D polynomials of the direct-image position: f = sum_i C_i(x0, y0) t^i (field dependence).
Coordinates are 0-based full-frame detector pixels, wavelengths in micrometres.

The two directions follow jwst 3.0 (stdatamodels 6.0 grism transforms) exactly, including
their numerical inversions, because extraction boxes and wavelengths must agree with jwst's:

- backward (x0, y0, wavelength, order) -> dispersed (x, y): t from ``invdispl`` when present,
  else by inverting ``displ`` on 40 samples of t (NIRCam); then x = x0 + dispx(t),
  y = y0 + dispy(t).  NIRISS rotates (dx, dy) by -(FWCPOS - FWCPOS_REF).
- forward (x, y, x0, y0, order) -> wavelength: t from the offset along the dispersion axis
  (``invdispx``/``invdispy`` when present, else interpolation of dispx/dispy sampled on 40
  (NIRCam) or 10 (NIRISS, after the filter-wheel rotation) values of t), then
  wavelength = displ(t).

The gwcs of a grism exposure (:func:`grism_wcs`) is jwst's: grism_detector -> direct_image
(the dispersion above) -> v2v3 -> v2v3vacorr -> world, the spatial part being streamcal's
imaging WCS (:func:`streamcal.wcs.exposure_wcs`) with the wavelength and order passed along.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from astropy import coordinates as coord
from astropy import units as u
from astropy.modeling import Model
from astropy.modeling.models import Identity
from gwcs import WCS
from gwcs import coordinate_frames as cf

from ..errors import ReferenceFileError
from .exposure import exposure_wcs
from .pointing import Pointing

__all__ = ["FieldPoly", "TraceFunction", "GrismSpecwcs", "specwcs_from_tree", "trace", "trace_parameter",
           "wavelength_at", "grism_wcs", "dispaxis_of", "stripe_specwcs", "GrismForward", "GrismBackward",
           "GrismKeywords", "NIRCAM_SAMPLING", "NIRISS_SAMPLING", "SPEED_OF_LIGHT"]

#: Number of t samples jwst 3.0 uses to invert NIRCam and NIRISS trace functions.
NIRCAM_SAMPLING = 40
NIRISS_SAMPLING = 10
#: m/s (VELOSYS is in m/s).
SPEED_OF_LIGHT = 299792458.0


@dataclass(frozen=True)
class FieldPoly:
    """A 2-D polynomial sum_k c_k x^i_k y^j_k (astropy ``Polynomial2D`` terms), no domain mapping."""

    xpow: tuple[int, ...]
    ypow: tuple[int, ...]
    coeffs: tuple[float, ...]

    def __call__(self, x, y):
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        out = np.zeros(np.broadcast(x, y).shape)
        for i, j, c in zip(self.xpow, self.ypow, self.coeffs):
            out = out + c * x**i * y**j
        return out


@dataclass(frozen=True)
class TraceFunction:
    """One of displ/dispx/dispy/inv* for one order.

    Exactly one of the two forms is set: ``t_coeffs`` (c0, c1, ... of a polynomial of its
    single input) or ``field_coeffs`` (the C_i(x0, y0) of sum_i C_i t^i).
    """

    t_coeffs: tuple[float, ...] | None = None
    field_coeffs: tuple[FieldPoly, ...] | None = None

    @property
    def field_dependent(self) -> bool:
        return self.field_coeffs is not None

    def __call__(self, t, x0=None, y0=None):
        """Value at trace parameter (or wavelength / offset for inverses) ``t`` for a source at
        (x0, y0) (ignored without field dependence); numpy broadcasting of all three."""
        t = np.asarray(t, dtype=float)
        if self.field_coeffs is None:
            return np.polynomial.polynomial.polyval(t, np.asarray(self.t_coeffs))
        return sum(c(x0, y0) * t**i for i, c in enumerate(self.field_coeffs))


def _poly1d(model) -> tuple[float, ...]:
    if type(model).__name__ != "Polynomial1D" or model.n_inputs != 1:
        raise ReferenceFileError(f"specwcs: unsupported 1-D trace model {type(model).__name__}")
    if getattr(model, "domain", None) not in (None, (-1, 1)) or getattr(model, "window", None) not in (None, (-1, 1)):
        raise ReferenceFileError("specwcs: Polynomial1D with a domain/window mapping is not supported")
    return tuple(float(getattr(model, f"c{i}").value) for i in range(model.degree + 1))


def _poly2d(model) -> FieldPoly:
    if type(model).__name__ != "Polynomial2D":
        raise ReferenceFileError(f"specwcs: unsupported 2-D trace model {type(model).__name__}")
    xp, yp, cs = [], [], []
    for name in model.param_names:
        i, j = (int(v) for v in name[1:].split("_"))
        xp.append(i)
        yp.append(j)
        cs.append(float(getattr(model, name).value))
    return FieldPoly(tuple(xp), tuple(yp), tuple(cs))


def _trace_function(node: Any) -> TraceFunction | None:
    """A TraceFunction from a specwcs node: a model, or a list of them (one model = t only;
    several 2-input models = field-dependent coefficients); None for an empty node."""
    if isinstance(node, Model):
        return TraceFunction(t_coeffs=_poly1d(node))
    items = list(node or [])
    if not items:
        return None
    if len(items) == 1 and isinstance(items[0], Model):
        return _trace_function(items[0])
    if all(isinstance(m, Model) and m.n_inputs == 2 for m in items):
        return TraceFunction(field_coeffs=tuple(_poly2d(m) for m in items))
    if all(isinstance(m, Model) and m.n_inputs == 1 for m in items):
        # jwst evaluates only the first of several 1-input models (legacy files)
        return TraceFunction(t_coeffs=_poly1d(items[0]))
    raise ReferenceFileError(f"specwcs: cannot read trace node {node!r}")


def _per_order(node: Any, norders: int, name: str, required: bool) -> tuple[TraceFunction | None, ...] | None:
    items = list(node) if isinstance(node, (list, tuple)) else ([] if node is None else [node])
    if not items or all(_is_empty(i) for i in items):
        if required:
            raise ReferenceFileError(f"specwcs: no {name}")
        return None
    if len(items) != norders:
        raise ReferenceFileError(f"specwcs: {name} has {len(items)} entries for {norders} orders")
    return tuple(_trace_function(i) for i in items)


def _is_empty(node: Any) -> bool:
    if isinstance(node, (list, tuple)):
        return all(_is_empty(i) for i in node)
    return node is None


@dataclass(frozen=True)
class GrismSpecwcs:
    """The dispersion of one SPECWCS file (one filter/grism combination).

    Attributes
    ----------
    instrument : str
        "NIRCAM" or "NIRISS" (they invert the trace differently).
    orders : tuple of int
        Spectral orders, in the order of the per-order tuples.
    displ, dispx, dispy : tuple of TraceFunction
        Wavelength (um) and x, y trace offsets (pixels) against t, per order.
    invdispl, invdispx, invdispy : tuple of TraceFunction, or None
        Inverses, when the file has them.
    fwcpos_ref : float
        NIRISS filter-wheel reference angle (deg); 0 for NIRCam.
    """

    instrument: str
    orders: tuple[int, ...]
    displ: tuple[TraceFunction, ...]
    dispx: tuple[TraceFunction, ...]
    dispy: tuple[TraceFunction, ...]
    invdispl: tuple[TraceFunction, ...] | None = None
    invdispx: tuple[TraceFunction, ...] | None = None
    invdispy: tuple[TraceFunction, ...] | None = None
    fwcpos_ref: float = 0.0

    def index(self, order: int) -> int:
        try:
            return self.orders.index(int(order))
        except ValueError:
            raise ValueError(f"spectral order {order} is not in the specwcs (orders {self.orders})") from None


def specwcs_from_tree(tree: Mapping) -> GrismSpecwcs:
    """Read the dispersion of a NIRCAMGrismModel / NIRISSGrismModel ASDF tree (a
    :class:`~streamcal.refs.model.RefData` ``tree``).

    Raises
    ------
    ReferenceFileError
        Not a grism SPECWCS, a NIRCam DHS file (per-stripe models, not supported), or
        trace models other than polynomials.
    """
    meta = tree.get("meta") or {}
    instrument = str((meta.get("instrument") or {}).get("name", "")).upper()
    if instrument not in ("NIRCAM", "NIRISS"):
        raise ReferenceFileError(f"specwcs: grism dispersion of {instrument or 'unknown instrument'} not supported")
    if tree.get("stripes") is not None:
        raise ReferenceFileError("specwcs: NIRCam DHS files (per-stripe models) are not supported; "
                                 "use stripe_specwcs() for one stripe")
    return _specwcs(instrument, tree.get("orders"), tree, float(tree.get("fwcpos_ref") or 0.0))


def _specwcs(instrument: str, orders, tree: Mapping, fwcpos_ref: float) -> GrismSpecwcs:
    orders = tuple(int(o) for o in (orders or []))
    if not orders:
        raise ReferenceFileError("specwcs: no orders")
    n = len(orders)
    return GrismSpecwcs(instrument=instrument, orders=orders,
                        displ=_per_order(tree.get("displ"), n, "displ", True),
                        dispx=_per_order(tree.get("dispx"), n, "dispx", True),
                        dispy=_per_order(tree.get("dispy"), n, "dispy", True),
                        invdispl=_per_order(tree.get("invdispl"), n, "invdispl", False),
                        invdispx=_per_order(tree.get("invdispx"), n, "invdispx", False),
                        invdispy=_per_order(tree.get("invdispy"), n, "invdispy", False),
                        fwcpos_ref=fwcpos_ref)


def stripe_specwcs(tree: Mapping, stripe: int, fieldpoint: str) -> GrismSpecwcs:
    """The dispersion of one stripe of a NIRCam DHS SPECWCS (``stripes``/``fieldpoints``
    select one entry of the per-stripe ``displ``/``dispx``/``dispy`` lists), as jwst 3.0's
    DHS WCS builds it: no inverse models are used.

    Raises
    ------
    ReferenceFileError
        No entry for this stripe and field point.
    """
    for i, (s, fp) in enumerate(zip(tree.get("stripes") or [], tree.get("fieldpoints") or [])):
        if int(s) == int(stripe) and str(fp) == fieldpoint:
            sub = {k: tree[k][i] for k in ("displ", "dispx", "dispy")}
            return _specwcs("NIRCAM", tree.get("orders"), sub, 0.0)
    raise ReferenceFileError(f"specwcs: no DHS stripe {stripe} for field point {fieldpoint}")


# --- backward: direct-image position + wavelength -> dispersed position -------------------------

def _min_by_gradient(resid: np.ndarray, t0: np.ndarray) -> np.ndarray:
    """Per column of ``resid`` (n_t, n): the t minimising it -- the sample of least residual,
    refined by the zero of the residual's gradient interpolated linearly through two
    neighbouring samples (jwst 3.0's NIRCam inverse dispersion; kept identical, not improved,
    so that wavelengths agree with jwst's).  Minima at the first/last sample give 0 and 1."""
    n_t = resid.shape[0]
    imin = np.argmin(resid, axis=0)
    out = np.where(imin == 0, 0.0, 1.0)
    inner = (imin > 0) & (imin < n_t - 1)
    if not inner.any():
        return out
    cols = np.nonzero(inner)[0]
    k = imin[inner]
    grad = np.gradient(resid[:, inner], axis=0)
    jj = np.arange(cols.size)
    gc, gl, gr = grad[k, jj], grad[k - 1, jj], grad[k + 1, jj]
    tc, tl, tr = t0[k], t0[k - 1], t0[k + 1]
    # falling at the centre sample: use (left, centre); rising: (centre, right)
    gr = np.where(gc < 0, gc, gr)
    tr = np.where(gc < 0, tc, tr)
    gl = np.where(gc > 0, gc, gl)
    tl = np.where(gc > 0, tc, tl)
    slope = (gr - gl) / (tr - tl)
    root = -(gr - slope * tr) / slope
    out[cols] = np.where(gc == 0, tc, root)
    return out


def _nircam_t_of_wavelength(spec: GrismSpecwcs, i: int, x0, y0, wavelength) -> np.ndarray:
    displ = spec.displ[i]
    t0 = np.linspace(0.0, 1.0, NIRCAM_SAMPLING)
    if not displ.field_dependent:
        # jwst interpolates the sampled displ as it is (assumed increasing)
        return np.interp(wavelength, displ(t0), t0)
    x0, y0, wavelength = np.broadcast_arrays(np.asarray(x0, float), np.asarray(y0, float),
                                             np.asarray(wavelength, float))
    flat = [a.ravel() for a in (x0, y0, wavelength)]
    grid = displ(t0[:, None], flat[0][None, :], flat[1][None, :])
    return _min_by_gradient((grid - flat[2][None, :]) ** 2, t0).reshape(wavelength.shape)


def trace_parameter(spec: GrismSpecwcs, x0, y0, wavelength, order: int) -> np.ndarray:
    """t of ``wavelength`` (um) on the trace of a source at direct-image (x0, y0), as jwst's
    backward grism transforms compute it (broadcast elementwise).

    Raises
    ------
    ValueError
        A negative wavelength or an order not in the file.
    """
    wavelength = np.asarray(wavelength, dtype=float)
    if (wavelength < 0).any():
        raise ValueError("wavelength must be positive")
    i = spec.index(order)
    if spec.invdispl is not None:
        return np.asarray(spec.invdispl[i](wavelength, x0, y0), dtype=float)
    if spec.instrument == "NIRISS":
        raise ReferenceFileError("NIRISS specwcs without invdispl")
    return _nircam_t_of_wavelength(spec, i, x0, y0, wavelength)


def _rotate(dx, dy, theta_deg: float):
    """Counter-clockwise rotation by ``theta_deg`` (astropy Rotation2D)."""
    a = np.deg2rad(theta_deg)
    c, s = np.cos(a), np.sin(a)
    return dx * c - dy * s, dx * s + dy * c


def trace(spec: GrismSpecwcs, x0, y0, wavelengths, order: int, *, theta: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Dispersed-image position (x, y) (0-based full-frame pixels) of ``wavelengths`` (um)
    of a source at direct-image (x0, y0), spectral order ``order``.

    ``theta`` (deg) is NIRISS's FWCPOS - FWCPOS_REF; the trace offsets are rotated by -theta
    as jwst's backward transform does.  Inputs broadcast elementwise.
    """
    i = spec.index(order)
    t = trace_parameter(spec, x0, y0, wavelengths, order)
    dx = spec.dispx[i](t, x0, y0)
    dy = spec.dispy[i](t, x0, y0)
    if spec.instrument == "NIRISS" and theta != 0.0:
        dx, dy = _rotate(dx, dy, -theta)
    return np.asarray(x0 + dx, dtype=float), np.asarray(y0 + dy, dtype=float)


# --- forward: dispersed position + source position -> wavelength ---------------------------------

def _nircam_t_of_offset(spec: GrismSpecwcs, i: int, dispaxis: int, x0, y0, dist) -> np.ndarray:
    inverse = spec.invdispx if dispaxis == 1 else spec.invdispy
    if inverse is not None:
        return inverse[i](dist)
    along = (spec.dispx if dispaxis == 1 else spec.dispy)[i]
    if not along.field_dependent:
        # jwst inverts the first two coefficients only (exact for linear legacy traces)
        c0, c1 = along.t_coeffs[0], along.t_coeffs[1]
        return (dist - c0) / c1
    t0 = np.linspace(0.0, 1.0, NIRCAM_SAMPLING)
    x0s, y0s = float(np.ravel(x0)[0]), float(np.ravel(y0)[0])
    sampled = along(t0, x0s, y0s)
    order_ = np.argsort(sampled)
    return np.interp(dist, sampled[order_], t0[order_])


def _niriss_t_of_offset(spec: GrismSpecwcs, i: int, dispaxis: int, x0, y0, dist, theta: float) -> np.ndarray:
    t0 = np.linspace(0.0, 1.0, NIRISS_SAMPLING)
    x0s, y0s = float(np.ravel(x0)[0]), float(np.ravel(y0)[0])
    dx = spec.dispx[i](t0, x0s, y0s)
    dy = spec.dispy[i](t0, x0s, y0s)
    if theta != 0.0:
        dx, dy = _rotate(dx, dy, theta)
    along = dx if dispaxis == 1 else dy
    order_ = np.argsort(along)
    xs, ts = along[order_], t0[order_]
    # linear interpolation, extrapolated beyond the samples with the end segments
    # (astropy Tabular1D with fill_value=None)
    dist = np.asarray(dist, dtype=float)
    k = np.clip(np.searchsorted(xs, dist) - 1, 0, xs.size - 2)
    return ts[k] + (dist - xs[k]) * (ts[k + 1] - ts[k]) / (xs[k + 1] - xs[k])


def wavelength_at(spec: GrismSpecwcs, x, y, x0, y0, order: int, *, dispaxis: int, theta: float = 0.0) -> np.ndarray:
    """Wavelength (um) of dispersed-image pixel (x, y) (0-based full frame) on the trace of a
    source at direct-image (x0, y0), as jwst's forward grism transforms give it.

    Parameters
    ----------
    dispaxis : int
        1: dispersion along rows (x; NIRCam GRISMR, NIRISS GR150C), 2: along columns (y;
        NIRCam GRISMC, NIRISS GR150R).
    theta : float
        NIRISS FWCPOS - FWCPOS_REF, deg.

    Notes
    -----
    For field-dependent traces the source position is taken as a scalar (the first element
    of ``x0``, ``y0``), as jwst does.  Pixels beyond the sampled trace are extrapolated
    (NIRISS) or clipped to t = 0 / 1 (NIRCam), as in jwst.
    """
    if dispaxis not in (1, 2):
        raise ValueError(f"dispaxis must be 1 or 2, got {dispaxis}")
    i = spec.index(order)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    dist = x - x0 if dispaxis == 1 else y - y0
    if spec.instrument == "NIRISS":
        t = _niriss_t_of_offset(spec, i, dispaxis, x0, y0, dist, theta)
    else:
        t = _nircam_t_of_offset(spec, i, dispaxis, x0, y0, dist)
    x0s, y0s = (float(np.ravel(x0)[0]), float(np.ravel(y0)[0])) if spec.displ[i].field_dependent else (x0, y0)
    return np.asarray(spec.displ[i](t, x0s, y0s), dtype=float)


# --- the gwcs ---------------------------------------------------------------------------------------

class GrismForward(Model):
    """(x, y, x0, y0, order) -> (x0, y0, wavelength, order): :func:`wavelength_at` as an
    astropy model, for the gwcs (wavelength times ``velocity_factor``)."""

    n_inputs = 5
    n_outputs = 4
    standard_broadcasting = False
    _separable = False
    fittable = False
    linear = False

    def __init__(self, spec: GrismSpecwcs, dispaxis: int, theta: float = 0.0, velocity_factor: float = 1.0, **kw):
        self.spec, self.dispaxis, self.theta, self.velocity_factor = spec, dispaxis, theta, velocity_factor
        super().__init__(**kw)
        self.inputs = ("x", "y", "x0", "y0", "order")
        self.outputs = ("x0", "y0", "wavelength", "order")

    def evaluate(self, x, y, x0, y0, order):
        o = int(np.ravel(order)[0])
        lam = wavelength_at(self.spec, x, y, x0, y0, o, dispaxis=self.dispaxis, theta=self.theta)
        return x0, y0, lam * self.velocity_factor, order

    @property
    def inverse(self):
        return GrismBackward(self.spec, self.theta, self.velocity_factor)


class GrismBackward(Model):
    """(x0, y0, wavelength, order) -> (x, y, x0, y0, order): :func:`trace` as an astropy model."""

    n_inputs = 4
    n_outputs = 5
    standard_broadcasting = False
    _separable = False
    fittable = False
    linear = False

    def __init__(self, spec: GrismSpecwcs, theta: float = 0.0, velocity_factor: float = 1.0, **kw):
        self.spec, self.theta, self.velocity_factor = spec, theta, velocity_factor
        super().__init__(**kw)
        self.inputs = ("x0", "y0", "wavelength", "order")
        self.outputs = ("x", "y", "x0", "y0", "order")

    def evaluate(self, x0, y0, wavelength, order):
        o = int(np.ravel(order)[0])
        x, y = trace(self.spec, x0, y0, np.asarray(wavelength) / self.velocity_factor, o, theta=self.theta)
        return x, y, x0, y0, order


def _composite_frames():
    spec = cf.SpectralFrame(name="spectral", axes_order=(2,), unit=(u.micron,), axes_names=("wavelength",))
    pix, arcsec = (u.pix, u.pix), (u.arcsec, u.arcsec)
    return {
        "grism_detector": cf.Frame2D(name="grism_detector", axes_order=(0, 1), axes_names=("x_grism", "y_grism"),
                                     unit=pix),
        "detector": cf.CompositeFrame([cf.Frame2D(name="detectorspatial", axes_order=(0, 1), unit=pix), spec],
                                      name="detector"),
        "v2v3": cf.CompositeFrame([cf.Frame2D(name="v2v3spatial", axes_order=(0, 1), axes_names=("v2", "v3"),
                                              unit=arcsec), spec], name="v2v3"),
        "v2v3vacorr": cf.CompositeFrame([cf.Frame2D(name="v2v3vacorrspatial", axes_order=(0, 1),
                                                    axes_names=("v2", "v3"), unit=arcsec), spec], name="v2v3vacorr"),
        "world": cf.CompositeFrame([cf.CelestialFrame(reference_frame=coord.ICRS(), name="sky",
                                                      unit=(u.deg, u.deg), axes_names=("lon", "lat")), spec],
                                   name="world"),
    }


def grism_wcs(spec: GrismSpecwcs, pointing: Pointing, distortion: Model, *, exp_type: str, shape: tuple[int, int],
              dispaxis: int, substrt: tuple[int, int] = (1, 1), offset: tuple[float, float] = (0.0, 0.0),
              fwcpos: float | None = None, xref_sci: float | None = None, yref_sci: float | None = None,
              velosys: float | None = None) -> WCS:
    """The gwcs jwst 3.0's assign_wcs builds for NRC_WFSS, NIS_WFSS and NRC_TSGRISM.

    Frames: grism_detector (x, y) -> detector (x0, y0, wavelength, order) -> v2v3 ->
    v2v3vacorr -> world (ra, dec, wavelength, order).

    - WFSS: inputs (x, y, x0, y0, order); the direct-image part is the imaging WCS of the
      exposure (subarray and filter offsets + DISTORTION) with wavelength and order passed on.
    - NRC_TSGRISM: inputs (x, y, order); (x0, y0) is fixed at (XREF_SCI, YREF_SCI) as jwst 3.0
      takes them -- the keyword values as they are, not minus one -- and subarray pixels are
      shifted to full frame (SUBSTRT - 1) before the dispersion.

    Parameters
    ----------
    spec : GrismSpecwcs
    pointing, distortion
        As for :func:`streamcal.wcs.exposure_wcs`.
    exp_type : str
        "NRC_WFSS", "NIS_WFSS" or "NRC_TSGRISM".
    shape : (ny, nx)
        Image shape.
    dispaxis : int
        1 = along rows, 2 = along columns (DISPAXIS).
    fwcpos : float
        NIRISS FWCPOS (deg), required for NIS_WFSS.
    xref_sci, yref_sci : float
        Required for NRC_TSGRISM.
    velosys : float, optional
        Barycentric velocity (m/s): wavelengths are multiplied by 1 / (1 + velosys / c).

    Notes
    -----
    The dispersion step is a :class:`GrismForward` (numpy, this module) with no ASDF
    converter: this gwcs cannot be written into a product's ASDF extension as it is (jwst's
    own converters for its grism transforms also drop the inverse models).

    Raises
    ------
    ValueError
        Unsupported EXP_TYPE, or a required keyword missing.
    """
    from astropy.modeling.models import Const1D, Mapping as AxisMapping, Shift

    exp_type = exp_type.upper()
    if exp_type not in ("NRC_WFSS", "NIS_WFSS", "NRC_TSGRISM"):
        raise ValueError(f"grism WCS of {exp_type} is not implemented")
    theta = 0.0
    if exp_type == "NIS_WFSS":
        if fwcpos is None:
            raise ValueError("NIS_WFSS needs FWCPOS")
        theta = float(fwcpos) - spec.fwcpos_ref
    factor = 1.0 if velosys is None else 1.0 / (1.0 + velosys / SPEED_OF_LIGHT)
    disperse = GrismForward(spec, dispaxis, theta, factor)
    if exp_type == "NRC_TSGRISM":
        if xref_sci is None or yref_sci is None:
            raise ValueError("NRC_TSGRISM needs XREF_SCI and YREF_SCI")
        xc, yc = Const1D(xref_sci), Const1D(yref_sci)
        xc.inverse, yc.inverse = Const1D(xref_sci), Const1D(yref_sci)
        head = (Shift(substrt[0] - 1) & Shift(substrt[1] - 1) & Identity(1)) if tuple(substrt) != (1, 1) else None
        disperse = (AxisMapping((0, 1, 0, 1, 2)) | (Identity(2) & xc & yc & Identity(1)) | disperse)
        if head is not None:
            disperse = head | disperse
    # TSGRISM: (x0, y0) are full-frame already, so jwst's direct-image step has no subarray shift
    direct_substrt = (1, 1) if exp_type == "NRC_TSGRISM" else substrt
    imaging = exposure_wcs(pointing, distortion, shape=shape, substrt=direct_substrt, offset=offset)
    f = _composite_frames()
    steps = [(f["grism_detector"], disperse)]
    for step, name in zip(imaging.pipeline[:-1], ("detector", "v2v3", "v2v3vacorr")):
        steps.append((f[name], step.transform & Identity(2)))
    steps.append((f["world"], None))
    return WCS(steps)


@dataclass(frozen=True)
class GrismKeywords:
    """The exposure keywords a grism WCS needs beyond the pointing.

    Attributes
    ----------
    exp_type, instrument : str
    grism, band : str
        NIRCam PUPIL / FILTER, NIRISS FILTER / PUPIL.
    dispaxis : int
        DISPAXIS, or the grism's own axis when the keyword is absent.
    fwcpos : float or None
        NIRISS FWCPOS (deg).
    xref_sci, yref_sci : float or None
        XREF_SCI, YREF_SCI (NRC_TSGRISM).
    velosys : float or None
        VELOSYS (m/s).
    """

    exp_type: str
    instrument: str
    grism: str
    band: str
    dispaxis: int
    fwcpos: float | None = None
    xref_sci: float | None = None
    yref_sci: float | None = None
    velosys: float | None = None

    @classmethod
    def from_headers(cls, primary, sci) -> GrismKeywords:
        """From the primary and SCI headers of an exposure (keywords looked up in SCI first,
        then primary, as jwst's schema places them: FWCPOS primary, XREF_SCI/VELOSYS/DISPAXIS
        SCI).

        Raises
        ------
        ValueError
            Not a NIRCam/NIRISS grism EXP_TYPE.
        """
        def get(key):
            for h in (sci, primary):
                if h is not None and key in h and h[key] not in (None, ""):
                    return h[key]
            return None

        exp_type = str(get("EXP_TYPE") or "").upper()
        instrument = str(get("INSTRUME") or "").upper()
        if exp_type not in ("NRC_WFSS", "NRC_TSGRISM", "NIS_WFSS"):
            raise ValueError(f"{exp_type or 'no EXP_TYPE'}: not a NIRCam/NIRISS grism exposure")
        filt, pupil = str(get("FILTER") or "").upper(), str(get("PUPIL") or "").upper()
        grism, band = (filt, pupil) if instrument == "NIRISS" else (pupil, filt)
        axis = get("DISPAXIS")
        opt = (lambda key: None if get(key) is None else float(get(key)))
        return cls(exp_type, instrument, grism, band, int(axis) if axis is not None else dispaxis_of(instrument, grism),
                   opt("FWCPOS"), opt("XREF_SCI"), opt("YREF_SCI"), opt("VELOSYS"))


def dispaxis_of(instrument: str, grism: str) -> int:
    """DISPAXIS of a grism: NIRCam GRISMR and NIRISS GR150C disperse along rows (1), NIRCam
    GRISMC and NIRISS GR150R along columns (2)."""
    grism = grism.upper()
    if instrument.upper() == "NIRCAM":
        return 1 if grism == "GRISMR" else 2
    return 1 if grism.endswith("C") else 2

