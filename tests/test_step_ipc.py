"""ipc: kernel convolution with reference pixels excluded; scipy yardstick."""

import numpy as np
import pytest
from scipy import ndimage

from streamcal.errors import ReferenceFileError
from streamcal.steps import ipc
from stepkit import ramp, ref

KERNEL = np.array([[-0.001, -0.01, -0.001], [-0.01, 1.044, -0.01], [-0.001, -0.01, -0.001]], np.float32)


def test_hand_worked_point_source_and_reference_border():
    # Full-frame-like corner: a 6x6 subarray at the bottom-left of an NIR detector has 4 reference
    # rows and columns; only pixels (4,4), (4,5), (5,4), (5,5) are science.  A 100 DN point at
    # (4,4): itself -> 104.4, side neighbours (4,5), (5,4) -> -1.0, diagonal (5,5) -> -0.1;
    # reference pixels (value 7) are unchanged and do not leak into the science pixels.
    d = np.full((1, 1, 6, 6), 7.0, np.float32)
    d[0, 0, 4:, 4:] = 0
    d[0, 0, 4, 4] = 100
    m = ramp(d, SUBARRAY="SUBX", SUBSTRT1=1, SUBSTRT2=1)
    m, rep = ipc.run(m, {"ipc": ref("ipc", SCI=KERNEL)}, ipc.Params(skip=False))
    assert rep.status == "COMPLETE"
    np.testing.assert_allclose(m.data[0, 0, 4:, 4:], [[104.4, -1.0], [-1.0, -0.1]], atol=1e-4)
    assert (m.data[0, 0, :4] == 7).all() and (m.data[0, 0, :, :4] == 7).all()


def test_skipped_by_default():
    m = ramp(np.ones((1, 1, 3, 3)))
    assert ipc.run(m, {"ipc": ref("ipc", SCI=KERNEL)})[1].status == "SKIPPED"


def test_miri_border_columns_only():
    m = ramp(np.ones((1, 1, 4, 8)), miri=True, SUBARRAY="SUB", SUBSTRT1=1, SUBSTRT2=1)
    assert ipc.reference_border(m.meta, (4, 8)) == ipc.RefBorder(0, 0, 4, 0)
    m = ramp(np.ones((1, 1, 4, 8)), miri=True, SUBARRAY="SUB", SUBSTRT1=1025, SUBSTRT2=1)
    assert ipc.reference_border(m.meta, (4, 8)) == ipc.RefBorder(0, 0, 0, 4)


def test_agrees_with_scipy_convolve_and_4d_kernel():
    """Yardstick: scipy.ndimage.convolve of the science region with zero padding (the same
    definition: a true convolution, reference pixels and off-image pixels count as 0).
    Tolerance 1e-4 DN on ~1000 DN (float32 data, float64 sums)."""
    rng = np.random.default_rng(1)
    d = rng.uniform(0, 1000, (2, 2, 20, 24)).astype(np.float32)
    k = rng.uniform(-0.02, 0.02, (3, 5)).astype(np.float32)
    k[1, 2] = 1.05
    m = ramp(d.copy(), SUBARRAY="SUBX", SUBSTRT1=1, SUBSTRT2=2040)  # top rows are reference rows
    border = ipc.reference_border(m.meta, (20, 24))
    assert border == ipc.RefBorder(0, 15, 4, 0)
    ipc.ipc_correct_inplace(m.data, k, border)
    sci = d[:, :, :5, 4:].astype(np.float64)
    expected = d.astype(np.float64).copy()
    for i in range(2):
        for g in range(2):
            expected[i, g, :5, 4:] = ndimage.convolve(sci[i, g], k.astype(np.float64), mode="constant", cval=0)
    np.testing.assert_allclose(m.data, expected, atol=1e-4, rtol=0)
    # A 4-D kernel equal everywhere gives the same result.
    m4 = d.copy()
    k4 = np.broadcast_to(k[:, :, None, None], k.shape + (20, 24)).copy()
    ipc.ipc_correct_inplace(m4, k4, border)
    np.testing.assert_allclose(m4, m.data, atol=1e-5)


def test_bad_kernels():
    m = ramp(np.ones((1, 1, 4, 4)))
    with pytest.raises(ReferenceFileError, match="odd"):
        ipc.run(m, {"ipc": ref("ipc", SCI=np.ones((2, 2)))}, ipc.Params(skip=False))
    with pytest.raises(ReferenceFileError, match="match"):
        ipc.run(m, {"ipc": ref("ipc", SCI=np.ones((3, 3, 5, 5)))}, ipc.Params(skip=False))
