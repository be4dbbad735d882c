"""dq_init: mask DQ into PIXELDQ, DO_NOT_USE into every group."""

import numpy as np

from streamcal import dqflags
from streamcal.steps import dq_init
from stepkit import ramp, ref

DNU, DEAD, HOT, REF = dqflags.DO_NOT_USE, dqflags.DEAD, dqflags.HOT, dqflags.REFERENCE_PIXEL


def _mask():
    # pixel (0,0): dead and DO_NOT_USE; (0,1): hot only; (1,0): reference pixel; (1,1): good.
    return np.array([[DNU | DEAD, HOT], [REF, 0]], np.uint32)


def test_pixeldq_and_groupdq():
    m = ramp(np.zeros((2, 3, 2, 2)), pixeldq=np.array([[0, 4], [0, 0]]))
    m, rep = dq_init.run(m, {"mask": ref("mask", DQ=_mask())}, dq_init.Params())
    assert rep.status == "COMPLETE"
    # PIXELDQ = old | mask: the pre-existing 4 on (0,1) is kept.
    assert m.pixeldq.tolist() == [[DNU | DEAD, HOT | 4], [REF, 0]]
    # Only the DO_NOT_USE pixel reaches GROUPDQ, in every integration and group.
    assert (m.groupdq[:, :, 0, 0] == DNU).all()
    assert m.groupdq[:, :, 0, 1:].sum() == 0 and m.groupdq[:, :, 1].sum() == 0


def test_guider_exposure_uses_pixeldq():
    m = ramp(np.zeros((1, 2, 2, 2)), INSTRUME="FGS", DETECTOR="GUIDER2", EXP_TYPE="FGS_ACQ1")
    m, _ = dq_init.run(m, {"mask": ref("mask", DQ=_mask())}, dq_init.Params())
    assert m.pixeldq.tolist() == _mask().tolist()


def test_missing_reference_is_skipped():
    m = ramp(np.zeros((1, 1, 1, 1)))
    _, rep = dq_init.run(m, {}, dq_init.Params())
    assert rep.status == "SKIPPED" and "mask" in rep.note


def test_apply_mask_inplace_counts():
    p = np.zeros((1, 3), np.uint32)
    g = np.zeros((1, 1, 1, 3), np.uint8)
    n = dq_init.apply_mask_inplace(p, g, np.array([[1, 1, 2]], np.uint32))
    assert n == 2 and g.ravel().tolist() == [1, 1, 0] and p.ravel().tolist() == [1, 1, 2]
