"""reset (MIRI): subtract the reset model per integration and group."""

import numpy as np

from streamcal import dqflags
from streamcal.steps import reset
from stepkit import ramp, ref


def test_subtract_reuse_last_integration_nan_and_dq():
    # Reference: 2 integrations x 2 groups; science: 3 integrations x 3 groups.  Integration 2
    # reuses reference integration 1; group 2 is beyond the reference: untouched.
    r = np.array([[10.0, 5.0], [4.0, np.nan]]).reshape(2, 2, 1, 1)
    dq = np.zeros((2, 1, 1, 1), np.uint32)
    dq[1] = dqflags.DQ["UNRELIABLE_DARK"]
    m = ramp(np.full((3, 3, 1, 1), 100.0), miri=True)
    m, rep = reset.run(m, {"reset": ref("reset", SCI=r, DQ=dq)}, reset.Params())
    assert m.data[:, :, 0, 0].tolist() == [[90, 95, 100], [96, 100, 100], [96, 100, 100]]
    assert m.pixeldq[0, 0] == dqflags.DQ["UNRELIABLE_DARK"]


def test_segment_and_3d_reference():
    r = np.array([1.0, 2.0]).reshape(2, 1, 1)  # 3-D: a single integration
    m = ramp(np.zeros((1, 2, 1, 1)), miri=True, INTSTART=7)
    m, _ = reset.run(m, {"reset": ref("reset", SCI=r)}, reset.Params())
    assert m.data.ravel().tolist() == [-1.0, -2.0]


def test_skips():
    assert reset.run(ramp(np.zeros((1, 1, 1, 1))), {"reset": ref("reset", SCI=np.zeros((1, 1, 1, 1)))})[1].status == "SKIPPED"
    assert reset.run(ramp(np.zeros((1, 1, 1, 1)), miri=True), {})[1].status == "SKIPPED"
