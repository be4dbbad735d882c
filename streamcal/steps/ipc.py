"""ipc (IPC reference; skipped by default): deconvolve inter-pixel capacitance.

Every group of every integration is convolved with the IPC deconvolution kernel (odd size,
typically 3x3 with centre ~1.02 and sum 1), in DMS orientation as jwst does:

``out[y, x] = sum_{j,i} K[j, i] * sci[y + hy - j, x + hx - i]``, hy = ky - 1 - ky // 2, ...

A 4-D per-pixel kernel (ky, kx, ny, nx) uses the kernel of the output pixel, ``K[j, i, y, x]``.
Reference pixels (the 4-pixel NIR border, MIRI columns 0-3 and 1028-1031, as far as they fall in
the subarray) are left unchanged and count as 0 where the kernel overlaps them.  ERR/DQ are not
touched.  The convolution is a numba loop with float64 accumulation; one copy of the science
region per group is the only temporary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple

import numpy as np
from numba import njit

from ..errors import NotImplementedStepError, ReferenceFileError
from ..models import ExposureMeta, RampModel
from ..refs.model import RefData
from ._common import ref_array
from .base import StepParams, StepReport, skipped

NAME = "ipc"
STATUS_KEYWORD = "S_IPC"
REFTYPES = ("ipc",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """IPC is skipped by default (jwst pipeline default)."""

    skip: bool = True


class RefBorder(NamedTuple):
    """Number of reference rows/columns on each edge of the (sub)array."""

    bottom: int
    top: int
    left: int
    right: int


def reference_border(meta: ExposureMeta, shape: tuple[int, int]) -> RefBorder:
    """Reference rows/columns inside the (sub)array, from its position on the detector.

    NIR: 4-pixel border of the 2048x2048 frame; MIRI: columns 0-3 and 1028-1031 only.

    Examples
    --------
    >>> from streamcal.models import ExposureMeta
    >>> m = ExposureMeta("f", "NIRCAM", "NRCA1", "NRC_IMAGE", 1, 2, 1, 0, 1.0, 1.0,
    ...                  subarray="SUB64", substrt1=1, substrt2=2000, subsize1=64, subsize2=64)
    >>> reference_border(m, (64, 64))
    RefBorder(bottom=0, top=19, left=4, right=0)
    """
    ny, nx = shape
    x0, y0 = meta.substrt1 - 1, meta.substrt2 - 1
    if meta.is_miri:
        return RefBorder(0, 0, max(0, 4 - x0), max(0, x0 + nx - 1028))
    return RefBorder(max(0, 4 - y0), max(0, y0 + ny - 2044), max(0, 4 - x0), max(0, x0 + nx - 2044))


@njit(cache=True)
def _convolve(pad, kernel, per_pixel, plane, ys, xs):
    """plane[ys+y, xs+x] = sum_{j,i} K[j, i] * pad[y + ky-1-j, x + kx-1-i], where ``pad`` is a
    copy of the science region with a zero border of the kernel's half-size.  Row by row (the
    accumulator row stays in cache), centre tap last like jwst; the inner loops are branch-free
    row operations, so they vectorise."""
    ky, kx = kernel.shape[0], kernel.shape[1]
    ny, nx = pad.shape[0] - ky + 1, pad.shape[1] - kx + 1
    centre = (ky // 2) * kx + kx // 2
    row = np.empty(nx)
    for y in range(ny):
        row[:] = 0.0
        for n in range(1, ky * kx + 1):
            j, i = divmod((centre + n) % (ky * kx), kx)  # n = ky*kx is the centre: last
            dy, dx = ky - 1 - j, kx - 1 - i
            if per_pixel:
                for x in range(nx):
                    row[x] += kernel[j, i, y, x] * pad[y + dy, x + dx]
            else:
                w = kernel[j, i, 0, 0]
                for x in range(nx):
                    row[x] += w * pad[y + dy, x + dx]
        for x in range(nx):
            plane[ys + y, xs + x] = row[x]


def ipc_correct_inplace(data: np.ndarray, kernel: np.ndarray, border: RefBorder) -> None:
    """Convolve every group with the IPC kernel, reference pixels excluded.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN; corrected in place.
    kernel : ndarray, float, (ky, kx) or (ky, kx, ny, nx)
        Deconvolution kernel, dimensionless (4-D: per output pixel, subarray-sized).
    border : RefBorder
        Reference rows/columns to leave out.

    Examples
    --------
    A pixel next to the edge loses its off-image neighbour (-0.1 x 0):

    >>> k = np.array([[0, 0, 0], [-0.1, 1.2, -0.1], [0, 0, 0]])
    >>> d = np.array([[10.0, 20.0, 30.0]], np.float32).reshape(1, 1, 1, 3)
    >>> ipc_correct_inplace(d, k, RefBorder(0, 0, 0, 0)); np.round(d.ravel(), 3).tolist()
    [10.0, 20.0, 34.0]
    """
    ny, nx = data.shape[-2:]
    ys, ye = border.bottom, ny - border.top
    xs, xe = border.left, nx - border.right
    ky, kx = kernel.shape[:2]
    if kernel.ndim == 2:
        k4 = np.ascontiguousarray(kernel, dtype=np.float64)[:, :, None, None]
    else:
        k4 = np.ascontiguousarray(kernel[:, :, ys:ye, xs:xe], dtype=np.float64)
    pad = np.zeros((ye - ys + ky - 1, xe - xs + kx - 1), np.float32)
    by, bx = ky // 2, kx // 2
    for i in range(data.shape[0]):
        for g in range(data.shape[1]):
            pad[by:by + ye - ys, bx:bx + xe - xs] = data[i, g, ys:ye, xs:xe]
            _convolve(pad, k4, kernel.ndim == 4, data[i, g], ys, xs)


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Deconvolve IPC in ``model.data`` in place."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if "ipc" not in refs:
        return model, skipped("no ipc reference file applies")
    if model.meta.readpatt.startswith("NRSIRS2"):
        raise NotImplementedStepError("ipc: NIRSpec IRS2 readouts are not implemented in streamcal")
    ref = refs["ipc"]
    kernel = ref_array(ref, "SCI", ndim=(2, 4))
    if kernel.ndim == 4 and kernel.shape[-2:] != model.pixeldq.shape:
        raise ReferenceFileError(f"ipc reference {ref.name}: 4-D kernel {kernel.shape} does not match "
                                 f"the data {model.pixeldq.shape}")
    if kernel.shape[0] % 2 == 0 or kernel.shape[1] % 2 == 0:
        raise ReferenceFileError(f"ipc reference {ref.name}: kernel size {kernel.shape[:2]} is not odd")
    border = reference_border(model.meta, model.pixeldq.shape)
    ipc_correct_inplace(model.data, kernel, border)
    return model, StepReport(note=f"{kernel.shape[0]}x{kernel.shape[1]} {'per-pixel ' if kernel.ndim == 4 else ''}kernel")
