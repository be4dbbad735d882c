"""linearity: Horner correction, DQ rules, ZEROFRAME, read-level correction; stcal yardstick."""

import numpy as np
import pytest

from streamcal import dqflags
from streamcal.steps import linearity
from stepkit import ramp, ref

SAT, NOLIN = dqflags.SATURATED, dqflags.NO_LIN_CORR


def _coeffs(nx, c):
    """(ncoeffs, 1, nx) with the same coefficients c in every pixel."""
    return np.repeat(np.asarray(c, np.float32)[:, None, None], nx, axis=2)


def test_horner_saturated_groups_and_flags():
    # Fc = F + 1e-4 F^2 + 1e-8 F^3.  F = 1000 -> 1000 + 100 + 10 = 1110; F = 2000 -> 2000 + 400 + 80.
    c = _coeffs(4, [0, 1, 1e-4, 1e-8])
    c[2, 0, 1] = np.nan      # pixel 1: NaN coefficient -> uncorrected, NO_LIN_CORR
    c[1, 0, 2] = 0.0         # pixel 2: zero linear term -> uncorrected, NO_LIN_CORR
    lin_dq = np.array([[0, 0, 0, NOLIN]], np.uint32)  # pixel 3: flagged in the reference
    d = np.array([1000, 2000], np.float32)[None, :, None, None] * np.ones((1, 2, 1, 4), np.float32)
    g = np.zeros(d.shape, np.uint8)
    g[0, 1, 0, 0] = SAT      # pixel 0, group 1 saturated -> kept
    m = ramp(d, groupdq=g)
    m, rep = linearity.run(m, {"linearity": ref("linearity", COEFFS=c, DQ=lin_dq)}, linearity.Params())
    assert m.data[0, :, 0, 0].tolist() == pytest.approx([1110.0, 2000.0])
    assert m.data[0, :, 0, 1:].tolist() == [[1000.0] * 3, [2000.0] * 3]
    assert m.pixeldq[0].tolist() == [0, NOLIN, NOLIN, NOLIN]
    assert "3 pixels uncorrected" in rep.note


def test_zeroframe_zero_kept():
    c = _coeffs(2, [0, 2])
    m = ramp(np.ones((1, 1, 1, 2)), zeroframe=np.array([[[0.0, 5.0]]]), ZEROFRAM=True)
    m, _ = linearity.run(m, {"linearity": ref("linearity", COEFFS=c)}, linearity.Params())
    assert m.zeroframe.tolist() == [[[0.0, 10.0]]]
    assert m.data.ravel().tolist() == [2.0, 2.0]


def test_skip_without_reference():
    _, rep = linearity.run(ramp(np.ones((1, 1, 1, 1))), {}, linearity.Params())
    assert rep.status == "SKIPPED"


def test_frame_times_with_gap():
    # NFRAMES=2, GROUPGAP=1: group 0 = frames 1, 2; group 1 = frames 4, 5 (frame 3 dropped).
    assert linearity.frame_times(2, 2, 1).tolist() == [[1, 2], [4, 5]]


def _nonlinear_ramp(rng, shape, nframes, ngroups):
    """Observed groups of a ramp whose frames follow F_obs = F - 1e-6 F^2 (no noise)."""
    nints, ny, nx = shape
    rate = rng.uniform(50, 800, (ny, nx))  # DN per frame
    frames = rate[None, :, :] * np.arange(1, ngroups * nframes + 1)[:, None, None]
    observed = frames - 1e-6 * frames ** 2
    groups = observed.reshape(ngroups, nframes, ny, nx).mean(axis=1)
    truth = frames.reshape(ngroups, nframes, ny, nx).mean(axis=1)
    return np.broadcast_to(groups, (nints,) + groups.shape).astype(np.float32), truth


def _lin_coeffs(ny, nx):
    # Fobs = F - a F^2 with a = 1e-6; its inverse to 3rd order: Fc = F + a F^2 + 2 a^2 F^3 (the
    # next term, 5 a^3 F^4, is < 4e-5 relative below 20000 DN).
    c = np.zeros((4, ny, nx), np.float32)
    c[1], c[2], c[3] = 1.0, 1e-6, 2e-12
    ic = np.zeros((4, ny, nx), np.float32)
    ic[1], ic[2] = 1.0, -1e-6
    return c, ic


@pytest.mark.parametrize("nframes", [2, 4])
def test_read_level_agrees_with_stcal(nframes):
    """Yardstick: stcal 1.20 linearity_correction with ilin_coeffs and jwst's read pattern
    (GROUPGAP = 0, where jwst's and streamcal's frame numbering coincide).  Tolerance 2e-6
    relative: both evaluate the same polynomials, stcal in float32 numpy, streamcal in float64."""
    stcal_lin = pytest.importorskip("stcal.linearity.linearity")
    rng = np.random.default_rng(nframes)
    ngroups, ny, nx = 5, 6, 7
    data, _ = _nonlinear_ramp(rng, (2, ny, nx), nframes, ngroups)
    gdq = np.zeros(data.shape, np.uint8)
    gdq[0, 3:, 2, 3] = SAT
    c, ic = _lin_coeffs(ny, nx)
    c[:, 4, 4] = np.nan
    m = ramp(data.copy(), groupdq=gdq.copy(), NFRAMES=nframes)
    m, rep = linearity.run(m, {"linearity": ref("linearity", COEFFS=c, INV_COEFFS=ic)}, linearity.Params())
    assert "read-level" in rep.note
    pattern = [[g * nframes + k + 1 for k in range(nframes)] for g in range(ngroups)]
    expected, pdq, _ = stcal_lin.linearity_correction(
        data.copy(), gdq.copy(), np.zeros((ny, nx), np.uint32), c.copy(), np.zeros((ny, nx), np.uint32),
        dqflags.DQ, ilin_coeffs=ic.copy(), read_pattern=pattern)
    np.testing.assert_allclose(m.data, expected, rtol=2e-6)
    np.testing.assert_array_equal(m.pixeldq, pdq)


def test_group_level_agrees_with_stcal():
    """Yardstick: stcal group-level correction (no INV_COEFFS); tolerance 1e-6 relative."""
    stcal_lin = pytest.importorskip("stcal.linearity.linearity")
    rng = np.random.default_rng(3)
    data = rng.uniform(0, 40000, (2, 4, 8, 9)).astype(np.float32)
    gdq = (rng.random(data.shape) < 0.1).astype(np.uint8) * SAT
    c, _ = _lin_coeffs(8, 9)
    lin_dq = np.zeros((8, 9), np.uint32)
    lin_dq[1, 1] = NOLIN
    c[1, 2, 2] = 0
    m = ramp(data.copy(), groupdq=gdq)
    m, _ = linearity.run(m, {"linearity": ref("linearity", COEFFS=c, DQ=lin_dq)}, linearity.Params())
    expected, pdq, _ = stcal_lin.linearity_correction(data.copy(), gdq, np.zeros((8, 9), np.uint32),
                                                      c.copy(), lin_dq, dqflags.DQ)
    np.testing.assert_allclose(m.data, expected, rtol=1e-6)
    np.testing.assert_array_equal(m.pixeldq, pdq)


def test_read_level_recovers_truth_better_than_group_level():
    """Accuracy against truth: with 4-frame groups the read-level correction recovers the
    linear group means to < 1e-4 relative (limited by the 3rd-order correction polynomial), the
    group-level correction only to a few 1e-4 (it linearises the average of curved frames: the
    error is a * variance of the frames in a group, ~ 1.25 a r^2 DN for 4 frames of r DN)."""
    rng = np.random.default_rng(9)
    data, truth = _nonlinear_ramp(rng, (1, 5, 5), 4, 6)
    c, ic = _lin_coeffs(5, 5)
    read = data.copy()
    linearity.linearize_reads_inplace(read, np.zeros(read.shape, np.uint8), c, ic, np.zeros((5, 5), bool), 4)
    group = data.copy()
    linearity.linearize_inplace(group, np.zeros(group.shape, np.uint8), c, np.zeros((5, 5), bool))
    err_read = np.abs(read[0] / truth - 1).max()
    err_group = np.abs(group[0] / truth - 1).max()
    assert err_read < 1e-4 < err_group
