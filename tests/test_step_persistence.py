"""persistence (jwst 3.0 window flagging)."""

import numpy as np
import pytest

from streamcal import dqflags
from streamcal.steps import persistence
from stepkit import ramp

SAT, PERS, DNU = dqflags.SATURATED, dqflags.PERSISTENCE, dqflags.DO_NOT_USE


def _model(**keys):
    # 2 integrations x 7 groups of 10 s, EXPSTART MJD 60000, EFFINTTM 100 s; pixel (0,1)
    # saturates at group 5 of integration 0.
    g = np.zeros((2, 7, 1, 2), np.uint8)
    g[0, 5:, 0, 1] = SAT
    return ramp(np.zeros(g.shape), groupdq=g, TGROUP=10.0, TFRAME=10.0, EXPSTART=60000.0, EFFINTTM=100.0, **keys)


def test_window_across_integrations():
    # Group times: start + (g+1)*10 s.  Window opens at group 5 (t0+60 s), ends t0+130 s
    # (inclusive): groups 5, 6 of integration 0, and 0, 1, 2 (t0+110..130 s) of integration 1.
    m = _model()
    state = np.zeros((1, 2))
    m, rep = persistence.run(m, {}, persistence.Params(skip=False, persistence_time=70), state)
    assert m.groupdq[0, :, 0, 1].tolist() == [0, 0, 0, 0, 0, SAT | PERS, SAT | PERS]
    assert m.groupdq[1, :, 0, 1].tolist() == [PERS, PERS, PERS, 0, 0, 0, 0]
    assert (m.groupdq[:, :, 0, 0] == 0).all()
    assert state[0, 1] == 0.0 and "0 windows open" in rep.note  # closed by the end


def test_dnu_and_state_carried_to_next_exposure():
    m = _model()
    state = np.zeros((1, 2))
    persistence.run(m, {}, persistence.Params(skip=False, persistence_time=200, persistence_dnu=True), state)
    # window end = t(60 s) + 200 s = EXPSTART + 260 s, still open after the exposure (ends at 170 s)
    t0 = persistence.mjd_to_epoch(60000.0)
    assert state[0, 1] == pytest.approx(t0 + 260.0)
    assert m.groupdq[1, 6, 0, 1] == PERS | DNU
    # The next exposure starts 50 s later (EXPSTART + 220 s): groups up to t0 + 260 s are flagged.
    nxt = ramp(np.zeros((1, 7, 1, 2)), TGROUP=10.0, TFRAME=10.0, EXPSTART=60000.0 + 220 / 86400.0, EFFINTTM=70.0)
    persistence.run(nxt, {}, persistence.Params(skip=False, persistence_time=200), state)
    # times t0 + 230, 240, ... 290: 230, 240, 250, 260 flagged
    assert nxt.groupdq[0, :, 0, 1].tolist() == [PERS] * 4 + [0] * 3


def test_dn_threshold_and_int_times():
    m = _model()
    m.data[0, 2, 0, 0] = 5000.0  # above dn_threshold at group 2 -> window from t0 + 30 s
    m.int_times = np.array([(1, 60000.0, 0, 0, 0, 0, 0), (2, 60000.0 + 1000 / 86400.0, 0, 0, 0, 0, 0)],
                           dtype=[("integration_number", "i4"), ("int_start_MJD_UTC", "f8"),
                                  ("int_mid_MJD_UTC", "f8"), ("int_end_MJD_UTC", "f8"), ("int_start_BJD_TDB", "f8"),
                                  ("int_mid_BJD_TDB", "f8"), ("int_end_BJD_TDB", "f8")])
    m, _ = persistence.run(m, {}, persistence.Params(skip=False, persistence_time=30, dn_threshold=1000.0))
    assert m.groupdq[0, :, 0, 0].tolist() == [0, 0, PERS, PERS, PERS, PERS, 0]
    # integration 1 starts 1000 s later (INT_TIMES): nothing carried over
    assert (m.groupdq[1, :, 0, :] == 0).all()


def test_backwards_window_is_invalid():
    m = _model()
    t0 = persistence.mjd_to_epoch(60000.0)
    state = np.full((1, 2), t0 + 10_000.0)
    with pytest.raises(ValueError, match="backwards"):
        persistence.run(m, {}, persistence.Params(skip=False, persistence_time=70), state)


def test_skips():
    m = _model()
    assert persistence.run(m, {})[1].status == "SKIPPED"  # skipped by default
    _, rep = persistence.run(m, {}, persistence.Params(skip=False))
    assert rep.status == "SKIPPED" and "persistence_time" in rep.note
    with pytest.raises(ValueError, match="float64"):
        persistence.run(m, {}, persistence.Params(skip=False, persistence_time=5), np.zeros((2, 2)))


def test_relative_times_without_expstart():
    m = ramp(np.zeros((1, 3, 1, 1)), groupdq=np.full((1, 3, 1, 1), SAT), TGROUP=1.0, TFRAME=1.0)
    # times 1, 2, 3 s: window from group 0 (1 s) to 11 s covers all three groups
    m, rep = persistence.run(m, {}, persistence.Params(skip=False, persistence_time=10))
    assert "relative" in rep.note and (m.groupdq & PERS).all()
