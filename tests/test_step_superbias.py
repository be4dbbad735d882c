"""superbias: subtract the bias from every group and ZEROFRAME."""

import numpy as np

from streamcal import dqflags
from streamcal.steps import superbias
from stepkit import ramp, ref


def test_subtract_nan_dq_and_zeroframe():
    data = np.full((2, 3, 1, 3), 1000.0)
    zf = np.array([[[0.0, 500.0, 500.0]], [[600.0, 0.0, 600.0]]])
    m = ramp(data, zeroframe=zf, ZEROFRAM=True)
    bias = np.array([[100.0, np.nan, 250.0]])
    dq = np.array([[dqflags.DQ["UNRELIABLE_BIAS"], 0, 0]], np.uint32)
    m, rep = superbias.run(m, {"superbias": ref("superbias", SCI=bias, DQ=dq)}, superbias.Params())
    assert rep.status == "COMPLETE"
    # 1000 - 100 = 900; NaN bias -> 0 -> 1000; 1000 - 250 = 750, in every group.
    assert (m.data[:, :, 0] == [900.0, 1000.0, 750.0]).all()
    assert m.pixeldq[0].tolist() == [dqflags.DQ["UNRELIABLE_BIAS"], 0, 0]
    # ZEROFRAME: 0 stays 0 (bad); 500 - 0 = 500; 500 - 250 = 250; 600 - 100 = 500.
    assert m.zeroframe.tolist() == [[[0.0, 500.0, 250.0]], [[500.0, 0.0, 350.0]]]


def test_miri_and_missing_reference_skip():
    m = ramp(np.ones((1, 1, 1, 1)), miri=True)
    _, rep = superbias.run(m, {"superbias": ref("superbias", SCI=np.ones((1, 1)))}, superbias.Params())
    assert rep.status == "SKIPPED" and "near-IR" in rep.note
    _, rep = superbias.run(ramp(np.ones((1, 1, 1, 1))), {}, superbias.Params())
    assert rep.status == "SKIPPED" and "superbias" in rep.note
