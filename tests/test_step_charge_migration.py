"""charge_migration: CHARGELOSS|DO_NOT_USE from the first exceedance, with 4 neighbours."""

import numpy as np

from streamcal import dqflags
from streamcal.steps import charge_migration

from stepkit import ramp

CL = dqflags.CHARGELOSS | dqflags.DO_NOT_USE


def test_first_exceedance_neighbours_and_dnu():
    # 3x3 image, 4 groups.  Centre pixel exceeds 25000 from group 2; its 4 side neighbours get
    # the flags from group 2 too, the corners do not.  Pixel (0,0) exceeds at groups 1 and 3, but
    # group 1 is exactly DO_NOT_USE (ignored), so its run starts at group 3 (its neighbours' own
    # signal never exceeds, so they do not pull it earlier).
    d = np.zeros((1, 4, 3, 3), np.float32)
    d[0, 2:, 1, 1] = 30000
    d[0, [1, 3], 0, 0] = 26000
    g = np.zeros(d.shape, np.uint8)
    g[0, 1, 0, 0] = dqflags.DO_NOT_USE
    m = ramp(d, groupdq=g)
    m, rep = charge_migration.run(m, {}, charge_migration.Params(skip=False))
    assert rep.status == "COMPLETE" and "2 ramps" in rep.note
    flagged = (m.groupdq[0] & dqflags.CHARGELOSS) != 0
    assert flagged[:2, 1, 1].tolist() == [False, False] and flagged[2:, 1, 1].all()
    for y, x in ((0, 1), (1, 0), (1, 2), (2, 1)):
        assert flagged[:, y, x].tolist() == [False, False, True, True]
    assert not flagged[:, 2, 2].any()
    # (0,0): its own run starts at group 3; its neighbours (0,1), (1,0) already start at 2.
    assert flagged[:, 0, 0].tolist() == [False, False, False, True]
    assert m.groupdq[0, 3, 1, 1] == CL


def test_skips():
    m = ramp(np.full((1, 2, 1, 1), 1e5))
    assert charge_migration.run(m, {})[1].status == "SKIPPED"        # default skip
    _, rep = charge_migration.run(m, {}, charge_migration.Params(skip=False))
    assert rep.status == "SKIPPED" and "NGROUPS=2" in rep.note
    assert charge_migration.Params().signal_threshold == 25000.0


def test_spread_to_neighbours_edges():
    first = np.array([[0, 5], [5, 5]])
    assert charge_migration.spread_to_neighbours(first).tolist() == [[0, 0], [0, 5]]
