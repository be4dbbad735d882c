"""rscd: table lookup, first/later integrations, capping, bright pixels."""

import numpy as np

from streamcal import dqflags
from streamcal.steps import rscd
from stepkit import ramp, ref

DNU, SAT, FLUX_EST = dqflags.DO_NOT_USE, dqflags.SATURATED, dqflags.DQ["FLUX_ESTIMATED"]


def _table(first=True):
    cols = [("SUBARRAY", "U17"), ("READPATT", "U12")] + ([("GROUP_SKIP1", "i4")] if first else []) + [("GROUP_SKIP", "i4")]
    rows = [("FULL", "FAST", 1, 2), ("SUB64", "FAST", 0, 9)] if first else [("FULL", "FAST", 2)]
    return {"RSCD_GROUP_SKIP": np.array(rows, dtype=cols)}


def _run(nints=2, ngroups=6, groupdq=None, table=None, params=rscd.Params(), **keys):
    m = ramp(np.zeros((nints, ngroups, 1, 2)), miri=True, groupdq=groupdq, **keys)
    m, rep = rscd.run(m, {"rscd": ref("rscd", tables=table or _table())}, params)
    return m, rep


def test_first_and_later_integrations():
    # FULL/FAST: 1 group flagged in integration 1, 2 in the later ones.
    m, rep = _run(nints=3)
    assert rep.status == "COMPLETE"
    dnu = (m.groupdq[:, :, 0, 0] & DNU) != 0
    assert dnu.tolist() == [[True] + [False] * 5, [True, True] + [False] * 4, [True, True] + [False] * 4]


def test_segment_not_starting_at_first_integration():
    m, _ = _run(nints=2, INTSTART=5)
    assert ((m.groupdq[:, :2] & DNU) != 0).all() and not (m.groupdq[:, 2:] & DNU).any()


def test_cap_to_leave_three_groups():
    # SUB64 asks for 9 groups; with 5 groups at most 5 - 3 = 2 are flagged.
    m, rep = _run(nints=2, ngroups=5, SUBARRAY="SUB64")
    assert ((m.groupdq[1, :2] & DNU) != 0).all() and not (m.groupdq[1, 2:] & DNU).any()
    assert not (m.groupdq[0] & DNU).any()  # group_skip1 = 0


def test_bright_pixels_keep_two_groups():
    # Later-integration skip 2.  Pixel 1 saturates from group 2: groups 3 and 2 are saturated,
    # so its count drops 2 -> 0 (its groups 0, 1 stay usable) and it gets FLUX_ESTIMATED.
    g = np.zeros((2, 6, 1, 2), np.uint8)
    g[1, 2:, 0, 1] = SAT
    m, rep = _run(groupdq=g)
    assert ((m.groupdq[1, :2, 0, 0] & DNU) != 0).all()
    assert not (m.groupdq[1, :2, 0, 1] & DNU).any()
    assert m.pixeldq[0].tolist() == [0, FLUX_EST] and "1 bright" in rep.note
    m, _ = _run(groupdq=g.copy(), params=rscd.Params(bright_use_2groups=False))
    assert ((m.groupdq[1, :2, 0, 1] & DNU) != 0).all() and m.pixeldq.sum() == 0


def test_old_table_format_and_skips():
    m, _ = _run(nints=2, table=_table(first=False))
    assert not (m.groupdq[0] & DNU).any() and ((m.groupdq[1, :2] & DNU) != 0).all()
    assert _run(READPATT="SLOW")[1].status == "SKIPPED"
    assert _run(ngroups=2)[1].status == "SKIPPED"
    m = ramp(np.zeros((1, 5, 1, 1)))
    assert "MIRI" in rscd.run(m, {"rscd": ref("rscd", tables=_table())})[1].note
    assert rscd.skip_counts(_table()["RSCD_GROUP_SKIP"], "SUBPRISM", "FAST") is None
