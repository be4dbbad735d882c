"""saturation: hand-worked flags, and agreement with stcal's flag_saturated_pixels."""

import numpy as np
import pytest

from streamcal import dqflags
from streamcal.errors import NotImplementedStepError
from streamcal.steps import saturation
from stepkit import ramp, ref

SAT, DNU, FLOOR, NOSAT = dqflags.SATURATED, dqflags.DO_NOT_USE, dqflags.AD_FLOOR, dqflags.NO_SAT_CHECK
T = 1000.0  # threshold used in the hand-worked cases, DN


def _run(data, thresh, params=saturation.Params(), sat_dq=None, bias=None, **keys):
    m = ramp(data, **keys)
    refs = {"saturation": ref("saturation", SCI=thresh, DQ=np.zeros(thresh.shape, np.uint32)
                              if sat_dq is None else sat_dq)}
    if bias is not None:
        refs["superbias"] = ref("superbias", SCI=bias)
    m, rep = saturation.run(m, refs, params)
    return m, rep


def test_running_saturation_and_floor_no_growth():
    # 1x3 image, 4 groups.  Pixel 0 crosses 1000 at group 2 -> SATURATED on groups 2, 3 even
    # though group 3 dips below again; pixel 1 is <= 0 at group 1 only -> AD_FLOOR|DNU there;
    # pixel 2 stays well below.
    d = np.array([[500, 800, 1000, 900], [10, 0, 20, 30], [1, 2, 3, 4]], np.float32).T
    m, rep = _run(d.reshape(1, 4, 1, 3), np.full((1, 3), T), saturation.Params(n_pix_grow_sat=0))
    g = m.groupdq[0, :, 0]
    assert g[:, 0].tolist() == [0, 0, SAT, SAT]
    assert g[:, 1].tolist() == [0, FLOOR | DNU, 0, 0]
    assert g[:, 2].tolist() == [0, 0, 0, 0]
    assert "1 pixels saturated" in rep.note


def test_growth_3x3_box():
    # A single pixel saturating at group 1 in a 5x5 image: its 3x3 box is SATURATED from group 1.
    d = np.zeros((1, 3, 5, 5), np.float32) + 10
    d[0, 1:, 2, 2] = 2000
    m, _ = _run(d, np.full((5, 5), T))
    box = np.zeros((5, 5), bool)
    box[1:4, 1:4] = True
    assert ((m.groupdq[0, 0] & SAT) == 0).all()
    for g in (1, 2):
        assert (((m.groupdq[0, g] & SAT) != 0) == box).all()


def test_nan_threshold_and_no_sat_check():
    # NaN threshold -> NO_SAT_CHECK in PIXELDQ and threshold 65536 (never reached by 60000);
    # a reference NO_SAT_CHECK pixel likewise.
    d = np.full((1, 2, 1, 3), 60000.0)
    sat_dq = np.array([[0, NOSAT, 0]], np.uint32)
    m, _ = _run(d, np.array([[np.nan, 100.0, 100.0]]), saturation.Params(n_pix_grow_sat=0), sat_dq=sat_dq)
    assert m.pixeldq.tolist() == [[NOSAT, NOSAT, 0]]
    assert m.groupdq[0, :, 0].tolist() == [[0, 0, SAT], [0, 0, SAT]]


def test_backward_pass_frame_averaged():
    # NFRAMES=2: group g averages frames 2g+1, 2g+2, dilution = mean/last = (2g+1.5)/(2g+2).
    # Group 1 (dilution 3.5/4 = 0.875) at 900 >= 0.875*1000 = 875, not flagged, next SATURATED:
    # DO_NOT_USE on group 1.  Group 0 (0.75) at 500 < 750 stays clean.
    d = np.array([500, 900, 1100, 1200], np.float32).reshape(1, 4, 1, 1)
    m, _ = _run(d, np.full((1, 1), T), saturation.Params(n_pix_grow_sat=0), NFRAMES=2)
    assert m.groupdq.ravel().tolist() == [0, DNU, SAT, SAT]
    # use_readpatt=False: no backward pass.
    m, _ = _run(d, np.full((1, 1), T), saturation.Params(n_pix_grow_sat=0, use_readpatt=False), NFRAMES=2)
    assert m.groupdq.ravel().tolist() == [0, 0, SAT, SAT]


def test_group2_check():
    # NFRAMES=1, bias 100.  Group 1 = 150: (150-100)/1*3+100 = 250 < 1000 (would not saturate by
    # group 3); group 2 - group 1 = 840 > (1000-150)/1 = 850?  No -> not flagged.  With 900:
    # 750 <= 850 no.  Use group 2 = 999 (not SAT) and group 3 SAT: 849 > 850 is False ... so make
    # the headroom smaller: group 1 = 600 -> (500*3+100=1600) >= 1000 fails condition (a).
    # A case that passes all three: bias 0, g1 = 200 (200*3 = 600 < 1000), g2 = 999 (jump
    # 799 > (1000-200)/1 = 800? no).  Conditions (b) and (c) exclude each other for NFRAMES=1,
    # so use NFRAMES=2: mean(frames of g0) = 1.5, last frame of g2 = 6, frames per group 2.
    # g0 = 150: 150/1.5*6 = 600 < 1000 (a); g1 = 600: 450 > (1000-150)/2 = 425 (b); dilution of
    # g1 = 3.5/4: 600 < 875 so the backward pass leaves it; g2 = 1000 SAT (c) -> DNU on group 1.
    d = np.array([150, 600, 1000, 1100], np.float32).reshape(1, 4, 1, 1)
    m, _ = _run(d, np.full((1, 1), T), saturation.Params(n_pix_grow_sat=0), NFRAMES=2,
                bias=np.zeros((1, 1)))
    assert m.groupdq.ravel().tolist() == [0, DNU, SAT, SAT]


def test_zeroframe():
    d = np.full((1, 2, 1, 3), 10.0)
    zf = np.array([[[50.0, 1500.0, -3.0]]])
    m, _ = _run(d, np.full((1, 3), T), saturation.Params(n_pix_grow_sat=0), zeroframe=zf, ZEROFRAM=True)
    assert m.zeroframe.tolist() == [[[50.0, 0.0, 0.0]]]


def test_skips_and_irs2():
    m = ramp(np.ones((1, 1, 1, 1)))
    assert saturation.run(m, {}, saturation.Params())[1].status == "SKIPPED"
    assert saturation.run(m, {}, saturation.Params(skip=True))[1].note == "skipped by parameter"
    m = ramp(np.ones((1, 1, 1, 1)), INSTRUME="NIRSPEC", DETECTOR="NRS1", READPATT="NRSIRS2")
    with pytest.raises(NotImplementedStepError, match="IRS2"):
        saturation.run(m, {"saturation": ref("saturation", SCI=np.ones((1, 1)))}, saturation.Params())
    with pytest.raises(ValueError):
        saturation.Params(n_pix_grow_sat=-1)


def test_read_pattern():
    assert saturation.read_pattern(2, 3) == [[1, 2, 3], [4, 5, 6]]


@pytest.mark.parametrize("nframes,ngrow,use_bias", [(1, 1, False), (2, 1, True), (4, 2, True), (1, 0, False)])
def test_agrees_with_stcal(nframes, ngrow, use_bias):
    """Yardstick: stcal 1.20 flag_saturated_pixels with jwst's read pattern.  Tolerance: exact
    (the same comparisons on the same float32 values; any difference is a logic difference)."""
    stcal_sat = pytest.importorskip("stcal.saturation.saturation")
    rng = np.random.default_rng(nframes * 10 + ngrow)
    nints, ngroups, ny, nx = 2, 6, 40, 48
    rate = rng.uniform(0, 400, (ny, nx)) * (rng.random((ny, nx)) < 0.3)
    data = (rng.normal(300, 5, (nints, 1, ny, nx)) + rate * np.arange(1, ngroups + 1)[None, :, None, None])
    data[:, :, 5, 5] = [[-5, 0, 5, 10, 12, 14]] * nints  # A/D floor
    data[0, 2:, 20, 20] += 3000  # cosmic-ray-like jump into saturation mid-ramp
    thresh = rng.uniform(1000, 2000, (ny, nx)).astype(np.float32)
    # saturation setting in during group index 1 (the group-2 check): just below, then above
    data[1, 1, 30, 31] = thresh[30, 31] - 20
    data[1, 2:, 30, 31] = thresh[30, 31] + 500
    data = data.astype(np.float32)
    thresh[3, 7] = np.nan
    sat_dq = np.zeros((ny, nx), np.uint32)
    sat_dq[9, 9] = NOSAT
    bias = rng.normal(300, 5, (ny, nx)).astype(np.float32) if use_bias else None
    zf = (data[:, 0] * 0.9).astype(np.float32)

    m = ramp(data.copy(), NFRAMES=nframes, zeroframe=zf.copy(), ZEROFRAM=True)
    refs = {"saturation": ref("saturation", SCI=thresh, DQ=sat_dq)}
    if use_bias:
        refs["superbias"] = ref("superbias", SCI=bias)
    m, _ = saturation.run(m, refs, saturation.Params(n_pix_grow_sat=ngrow))

    pattern = [[g * nframes + k + 1 for k in range(nframes)] for g in range(ngroups)]
    gdq, pdq, zout = stcal_sat.flag_saturated_pixels(
        data.copy(), np.zeros(data.shape, np.uint8), np.zeros((ny, nx), np.uint32), thresh.copy(),
        sat_dq.copy(), 65535.0, dqflags.DQ, n_pix_grow_sat=ngrow, zframe=zf.copy(),
        read_pattern=pattern, bias=bias)
    np.testing.assert_array_equal(m.groupdq, gdq)
    np.testing.assert_array_equal(m.pixeldq, pdq)
    np.testing.assert_array_equal(m.zeroframe, zout)
    assert (m.groupdq & SAT).any() and (m.groupdq & FLOOR).any()
