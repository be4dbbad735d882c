"""Polynomial detector distortion models in the form of jwst's distortion reference files:
full-frame 0-based detector pixels (x, y) -> V2/V3 arcsec, with an inverse.

Forward::

    u, v = x - x_ref, y - y_ref                         (pixels from the reference point)
    X = s (u + dx(u, v)),  Y = s (v + dy(u, v))          (ideal frame, arcsec; s = pixel scale)
    V2, V3 = ideal_to_v2v3(X, Y)                        (SIAF planar relation, V3I_YANG, VPARITY)

``dx``, ``dy`` hold only terms of degree >= 2, so at the reference point the pixel scale is
exactly ``s`` and ideal axes run along the detector axes.  The inverse is a polynomial fitted
to the forward model over the detector (plus a margin): what real files carry too.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
from astropy.modeling import Model, bind_bounding_box, fitting
from astropy.modeling.models import Mapping as AxisMapping
from astropy.modeling.models import Polynomial2D, Shift

from .build import ideal_to_v2v3

#: Degree of the fitted inverse polynomial.
INVERSE_DEGREE = 5


def _ideal_polynomial(scale: float, terms: Mapping[str, float], linear: str, degree: int) -> Polynomial2D:
    """s * (u or v) + s * sum(c_ij u^i v^j) as a Polynomial2D (``linear`` is "c1_0" or "c0_1")."""
    params = {name: scale * value for name, value in terms.items()}
    params[linear] = params.get(linear, 0.0) + scale
    return Polynomial2D(degree, **params)


def polynomial_distortion(*, x_ref: float, y_ref: float, scale: float, dx_terms: Mapping[str, float],
                          dy_terms: Mapping[str, float], v2_ref: float, v3_ref: float, v3yangle: float,
                          vparity: int = -1, shape: tuple[int, int] | None = None,
                          bounding_box: tuple[tuple[float, float], tuple[float, float]] | None = None) -> Model:
    """Detector (0-based x, y pix) -> V2/V3 arcsec, with a fitted inverse.

    Parameters
    ----------
    x_ref, y_ref : float
        0-based full-frame pixel of the reference point (maps to ``v2_ref``, ``v3_ref``).
    scale : float
        Pixel scale at the reference point, arcsec/pix.
    dx_terms, dy_terms : mapping
        Distortion in pixels, Polynomial2D coefficient names of degree >= 2
        (``{"c2_0": 1e-6, "c1_2": 3e-10}``) in (u, v) = pixels from the reference point.
    v2_ref, v3_ref, v3yangle, vparity
        Aperture placement (arcsec, arcsec, deg, +-1).
    shape : (ny, nx), optional
        Detector size over which the inverse is fitted (default: 2048 x 2048).
    bounding_box : ((x0, x1), (y0, y1)), optional
        Pixel-edge limits of the valid (light-sensitive) area, full-frame 0-based pixels, as
        CRDS files carry it (MIRI imager: the reference columns left out); None: no limits.

    Examples
    --------
    >>> m = polynomial_distortion(x_ref=1023.5, y_ref=1023.5, scale=0.03, dx_terms={"c2_0": 1e-6},
    ...                           dy_terms={}, v2_ref=100.0, v3_ref=-500.0, v3yangle=0.0)
    >>> [round(float(v), 6) for v in m(1023.5, 1023.5)]
    [100.0, -500.0]
    """
    degree = max([3] + [int(n[1]) + int(n[3]) for n in (*dx_terms, *dy_terms)])
    for name in (*dx_terms, *dy_terms):
        if int(name[1]) + int(name[3]) < 2:
            raise ValueError(f"distortion term {name} has degree < 2")
    to_ideal = ((Shift(-x_ref) & Shift(-y_ref)) | AxisMapping((0, 1, 0, 1))
                | (_ideal_polynomial(scale, dx_terms, "c1_0", degree)
                   & _ideal_polynomial(scale, dy_terms, "c0_1", degree)))
    to_v2v3 = ideal_to_v2v3(v2_ref, v3_ref, v3yangle, vparity)
    forward = to_ideal | to_v2v3
    forward.inverse = to_v2v3.inverse | _fit_inverse(to_ideal, x_ref, y_ref, shape or (2048, 2048))
    forward.name = "distortion"
    if bounding_box is not None:
        # gwcs order: x interval first (astropy's order="F")
        bind_bounding_box(forward, bounding_box, order="F")
    return forward


def _fit_inverse(to_ideal: Model, x_ref: float, y_ref: float, shape: tuple[int, int]) -> Model:
    """Ideal (arcsec) -> detector pixels: polynomials fitted on a grid over the detector with a
    10 % margin (least squares; residuals well below 1e-3 pixel for few-pixel distortions)."""
    ny, nx = shape
    gx, gy = np.meshgrid(np.linspace(-0.1 * nx, 1.1 * nx, 45), np.linspace(-0.1 * ny, 1.1 * ny, 45))
    ix, iy = to_ideal(gx, gy)
    fitter = fitting.LinearLSQFitter()
    px = fitter(Polynomial2D(INVERSE_DEGREE), ix, iy, gx - x_ref)
    py = fitter(Polynomial2D(INVERSE_DEGREE), ix, iy, gy - y_ref)
    return AxisMapping((0, 1, 0, 1)) | (px & py) | (Shift(x_ref) & Shift(y_ref))
