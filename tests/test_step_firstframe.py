"""firstframe (MIRI, deprecated, skipped by default)."""

import numpy as np

from streamcal.steps import firstframe
from stepkit import ramp


def test_firstframe():
    m = ramp(np.zeros((2, 4, 1, 1)), miri=True)
    assert firstframe.run(m, {})[1].status == "SKIPPED"      # deprecated: skipped by default
    m, rep = firstframe.run(m, {}, firstframe.Params(skip=False))
    assert m.groupdq[:, :, 0, 0].tolist() == [[1, 0, 0, 0]] * 2
    m = ramp(np.zeros((1, 3, 1, 1)), miri=True)              # NGROUPS <= 3: kept
    assert firstframe.run(m, {}, firstframe.Params(skip=False))[1].status == "SKIPPED"
    assert firstframe.run(ramp(np.zeros((1, 5, 1, 1))), {}, firstframe.Params(skip=False))[1].status == "SKIPPED"
