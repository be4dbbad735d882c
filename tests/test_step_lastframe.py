"""lastframe (MIRI): final group DO_NOT_USE."""

import numpy as np

from streamcal import dqflags
from streamcal.steps import lastframe
from stepkit import ramp


def test_lastframe():
    m = ramp(np.zeros((2, 3, 1, 1)), miri=True)
    m, rep = lastframe.run(m, {}, lastframe.Params())
    assert rep.status == "COMPLETE"
    assert m.groupdq[:, :, 0, 0].tolist() == [[0, 0, dqflags.DO_NOT_USE]] * 2
    assert lastframe.run(ramp(np.zeros((1, 2, 1, 1)), miri=True), {})[1].status == "SKIPPED"
    assert lastframe.run(ramp(np.zeros((1, 5, 1, 1))), {})[1].status == "SKIPPED"
