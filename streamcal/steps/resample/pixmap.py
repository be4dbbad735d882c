"""Pixel maps: where each input pixel centre lands on an output grid, and a per-run cache.

A full-frame pixel map costs ~1-3 s of WCS evaluation, and one stage-3 run needs the same map
up to four times per image (skymatch's overlaps, outlier_detection's group mosaics and blot,
resample).  :func:`caching_pixmaps` keeps the maps of one run (calwebb_image3 wraps its steps in
it); outside it every call computes afresh.  The cache is a context variable, so concurrent
runs in threads do not share it, and it holds a reference to each WCS so an ``id`` is never
reused while cached.  A WCS must not be modified in place inside a caching block (steps return
new WCS objects, e.g. tweakreg).
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from typing import Iterator

import numpy as np
from drizzle.utils import calc_pixmap
from scipy.interpolate import RectBivariateSpline

from .grid import OutputGrid

_CACHE: contextvars.ContextVar[dict | None] = contextvars.ContextVar("streamcal_pixmaps", default=None)


@contextmanager
def caching_pixmaps() -> Iterator[None]:
    """Reuse pixel maps within the block (memory: 16 bytes per input pixel per map kept)."""
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def _key(wcs_in, grid: OutputGrid, shape, stepsize: float, order: int) -> tuple:
    return (id(wcs_in), grid.crval, grid.crpix, np.asarray(grid.cd).tobytes(), grid.shape, tuple(shape),
            float(stepsize), int(order))


def pixmap(wcs_in, grid: OutputGrid, shape: tuple[int, int], stepsize: float = 1.0, order: int = 1) -> np.ndarray:
    """Input pixel centres on ``grid``: (ny, nx, 2) float64, [..., 0] = x, [..., 1] = y
    (0-based); NaN outside the input's bounding box.  Treat the result as read-only (it may be
    cached).

    ``stepsize`` > 1 (jwst ``pixmap_stepsize``) evaluates the WCS only every ``stepsize``
    pixels (and on the last row/column) and interpolates with a spline of ``order`` 1 or 3
    (jwst ``pixmap_order``); an input whose sparse map has NaN is mapped exactly.
    """
    if order not in (1, 3):
        raise ValueError(f"pixmap_order must be 1 or 3, got {order}")
    cache = _CACHE.get()
    key = _key(wcs_in, grid, shape, stepsize, order) if cache is not None else None
    if cache is not None and key in cache:
        return cache[key][1]
    result = _sparse(wcs_in, grid, shape, stepsize, order) if stepsize > 1 else None
    if result is None:
        result = calc_pixmap(wcs_in, grid.gwcs(), shape)
    if cache is not None:
        cache[key] = (wcs_in, result)
    return result


def _sparse(wcs_in, grid: OutputGrid, shape, stepsize: float, order: int) -> np.ndarray | None:
    ny, nx = shape
    step = max(int(stepsize), 1)
    xs = np.unique(np.r_[np.arange(0, nx, step), nx - 1]).astype(float)
    ys = np.unique(np.r_[np.arange(0, ny, step), ny - 1]).astype(float)
    if xs.size <= order or ys.size <= order:
        return None
    gx, gy = np.meshgrid(xs, ys)
    u, v = grid.gwcs().world_to_pixel_values(*wcs_in.pixel_to_world_values(gx, gy))
    if not (np.isfinite(u).all() and np.isfinite(v).all()):
        return None
    full_x, full_y = np.arange(nx, dtype=float), np.arange(ny, dtype=float)
    out = np.empty((ny, nx, 2))
    for k, values in enumerate((u, v)):
        spline = RectBivariateSpline(ys, xs, values, kx=order, ky=order)
        out[..., k] = spline(full_y, full_x)
    return out
