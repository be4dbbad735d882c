"""dark_current: rebuilding, extrapolation, MIRI integrations, average_dark_current; stcal yardstick."""

import numpy as np
import pytest

from streamcal import dqflags
from streamcal.steps import dark_current
from stepkit import ramp, ref


def _frames(n, rate=1.0, ny=1, nx=1):
    """Dark frames 0, rate, 2 rate, ... DN (frame 0 subtracted, like a NIR dark)."""
    return (rate * np.arange(n, dtype=np.float32))[:, None, None] * np.ones((1, ny, nx), np.float32)


def test_direct_subtraction_dq_and_nan():
    # NFRAMES=1/GROUPGAP=0 science with a matching dark: group g minus dark[g].
    dark = _frames(4, 2.0, 1, 2)
    dark[:, 0, 1] = np.nan                                  # NaN -> 0: pixel 1 unchanged
    dq = np.array([[dqflags.HOT, 0]], np.uint32)
    m = ramp(np.full((2, 3, 1, 2), 100.0))
    m, rep = dark_current.run(m, {"dark": ref("dark", {"NFRAMES": 1, "GROUPGAP": 0}, SCI=dark, DQ=dq)},
                              dark_current.Params())
    assert rep.status == "COMPLETE"
    assert m.data[:, :, 0, 0].tolist() == [[100.0, 98.0, 96.0]] * 2
    assert (m.data[:, :, 0, 1] == 100.0).all()
    assert m.pixeldq.tolist() == [[dqflags.HOT, 0]]


def test_rebuild_nframes_groupgap_and_extrapolate():
    # Science NFRAMES=2, GROUPGAP=1, 3 groups -> frames {0,1}, {3,4}, {6,7}; the dark has 5
    # frames (0..4, 1 DN each) so frames 5..7 are extrapolated with last - previous = 1 DN:
    # group means 0.5, 3.5, 6.5.
    m = ramp(np.full((1, 3, 1, 1), 10.0), NFRAMES=2, GROUPGAP=1)
    m, rep = dark_current.run(m, {"dark": ref("dark", SCI=_frames(5))}, dark_current.Params())
    assert m.data.ravel().tolist() == [9.5, 6.5, 3.5]
    assert "extrapolated from 5 to 8" in rep.note


def test_dark_with_larger_nframes_is_skipped():
    m = ramp(np.ones((1, 2, 1, 1)), NFRAMES=1)
    _, rep = dark_current.run(m, {"dark": ref("dark", {"NFRAMES": 2}, SCI=_frames(4))}, dark_current.Params())
    assert rep.status == "SKIPPED" and "cannot be rebuilt" in rep.note


def test_miri_integrations_and_segments():
    # MIRI 4-D dark with 2 integrations (1 DN and 10 DN per group): integration 0 uses dark 0,
    # integrations 1, 2 use dark 1 (the last).  A later segment (INTSTART=4) uses the last only.
    dark = np.stack([_frames(3, 1.0), _frames(3, 10.0)])
    m = ramp(np.zeros((3, 3, 1, 1)), miri=True)
    m, _ = dark_current.run(m, {"dark": ref("dark", SCI=dark, DQ=np.zeros((2, 1, 1, 1), np.uint32))},
                            dark_current.Params())
    assert m.data[:, :, 0, 0].tolist() == [[0, -1, -2], [0, -10, -20], [0, -10, -20]]
    m = ramp(np.zeros((1, 3, 1, 1)), miri=True, INTSTART=4)
    m, _ = dark_current.run(m, {"dark": ref("dark", SCI=dark)}, dark_current.Params())
    assert m.data[0, :, 0, 0].tolist() == [0, -10, -20]


def test_average_dark_current_priority():
    shape = (1, 2)
    avd = np.array([[0.1, 0.2]], np.float32)
    r = ref("dark", {"AVDRKCUR": 0.05}, SCI=_frames(2, 1.0, *shape), AVDRKCUR=avd)
    m, rep = dark_current.run(ramp(np.zeros((1, 2, *shape))), {"dark": r}, dark_current.Params())
    assert m.average_dark_current.tolist() == avd.tolist() and "extension" in rep.note
    m, _ = dark_current.run(ramp(np.zeros((1, 2, *shape))), {"dark": r},
                            dark_current.Params(average_dark_current=0.3))
    assert np.allclose(m.average_dark_current, 0.3)
    r0 = ref("dark", {"AVDRKCUR": 0.05}, SCI=_frames(2, 1.0, *shape), AVDRKCUR=np.zeros(shape))
    m, _ = dark_current.run(ramp(np.zeros((1, 2, *shape))), {"dark": r0}, dark_current.Params())
    assert np.allclose(m.average_dark_current, 0.05)


def test_dark_output_noted_and_skips():
    m = ramp(np.zeros((1, 2, 1, 1)))
    _, rep = dark_current.run(m, {"dark": ref("dark", SCI=_frames(2))}, dark_current.Params(dark_output="x.fits"))
    assert "not written" in rep.note
    assert dark_current.run(m, {}, dark_current.Params())[1].status == "SKIPPED"


def test_extrapolation_needs_two_frames():
    from streamcal.errors import ReferenceFileError
    with pytest.raises(ReferenceFileError, match="extrapolate"):
        dark_current.subtract_dark_inplace(np.zeros((1, 3, 1, 1), np.float32), _frames(1))


@pytest.mark.parametrize("nframes,groupgap,ngroups,miri", [(1, 0, 4, False), (4, 1, 5, False),
                                                           (2, 0, 12, False), (1, 0, 6, True)])
def test_agrees_with_stcal(nframes, groupgap, ngroups, miri):
    """Yardstick: stcal 1.20 dark_sub.do_correction_data on the same arrays (including
    extrapolation past the dark's end).  Tolerance 2.5e-4 DN absolute (2 ulp): stcal averages frames in
    float32, streamcal in float64, which may differ by an ulp of the dark plane (darks here are
    < 60 DN, data < 2000 DN: 1 ulp of 2000 is 1.2e-4 DN); measured difference: 0."""
    dark_sub = pytest.importorskip("stcal.dark_current.dark_sub")
    dark_class = pytest.importorskip("stcal.dark_current.dark_class")
    rng = np.random.default_rng(ngroups)
    ny, nx, nints = 5, 6, 3
    ndark = 20
    dark = np.cumsum(rng.uniform(0, 2, (ndark, ny, nx)), axis=0).astype(np.float32)
    dark[:, 1, 1] = np.nan
    if miri:
        dark = np.stack([dark, dark * 1.5]).astype(np.float32)
    ddq = np.zeros(dark.shape[:-3] + ((1,) if miri else ()) + (ny, nx), np.uint32)
    ddq[..., 2, 2] = dqflags.HOT
    data = rng.uniform(1000, 2000, (nints, ngroups, ny, nx)).astype(np.float32)

    m = ramp(data.copy(), miri=miri, NFRAMES=nframes, GROUPGAP=groupgap)
    m, _ = dark_current.run(m, {"dark": ref("dark", {"NFRAMES": 1, "GROUPGAP": 0}, SCI=dark, DQ=ddq)},
                            dark_current.Params())

    sci = dark_class.ScienceData()
    sci.data, sci.groupdq, sci.pixeldq = data.copy(), np.zeros(data.shape, np.uint8), np.zeros((ny, nx), np.uint32)
    sci.exp_nframes, sci.exp_groupgap, sci.exp_intstart = nframes, groupgap, 1
    drk = dark_class.DarkData()
    drk.data, drk.groupdq = dark.copy(), ddq.copy()
    drk.exp_nframes, drk.exp_groupgap, drk.exp_ngroups = 1, 0, ndark
    out, _ = dark_sub.do_correction_data(sci, drk)
    np.testing.assert_allclose(m.data, out.data, atol=2.5e-4, rtol=0)
    np.testing.assert_array_equal(m.pixeldq, out.pixeldq)
