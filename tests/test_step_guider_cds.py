"""guider_cds: rates per guide mode, the physical ERR (checked against a Monte Carlo yardstick),
and the real FGS ACQ1 exposure through dq_init -> guider_cds -> flat_field."""

import numpy as np
import pytest

from streamcal import dqflags
from streamcal.errors import BadInputError
from streamcal.fitsio import read_raw
from streamcal.models import ImageModel
from streamcal.steps import dq_init, flat_field, guider_cds
from stepkit import ramp, ref

FGS = dict(INSTRUME="FGS", DETECTOR="GUIDER2", FASTAXIS=2, SLOWAXIS=-1, NOUTPUTS=1, SUBARRAY="8X8")


def _refs(shape, gain=2.0, rn=10.0):
    return {"gain": ref("gain", SCI=np.full(shape, gain)), "readnoise": ref("readnoise", SCI=np.full(shape, rn))}


def test_acq_track_rates_and_err():
    # Two integrations of CDS pairs, tg = 0.5 s: rates (14-10)/0.5 = 8 and (12-10)/0.5 = 4 DN/s.
    # ERR with RN_cds = 10 DN, gain 2: sqrt(100 + 4/2)/0.5 = 20.199 and sqrt(100 + 2/2)/0.5 = 20.100.
    d = np.array([[10, 14], [10, 12]], np.float32).reshape(2, 2, 1, 1)
    for exp in ("FGS_ACQ1", "FGS_ACQ2", "FGS_TRACK"):
        m = ramp(d, EXP_TYPE=exp, TGROUP=0.5, TFRAME=0.5, pixeldq=[[dqflags.HOT]], **FGS)
        out, rep = guider_cds.run(m, _refs((1, 1)), guider_cds.Params())
        assert isinstance(out, ImageModel) and out.bunit == "DN/s"
        assert out.data.shape == (2, 1, 1) and out.data.ravel().tolist() == [8.0, 4.0]
        np.testing.assert_allclose(out.err.ravel(), [20.19901, 20.09975], rtol=1e-5)
        assert out.dq.tolist() == [[dqflags.HOT]] and "jwst" in rep.note


def test_fineguide_rate_and_poisson_factor():
    # 8 groups rising 3 DN per group: mean(last 4) - mean(first 4) = 12 DN; tg = 0.1 s -> 120 DN/s.
    # ERR: read 100/4 = 25, Poisson 0.6875 * 12 / 2 = 4.125 -> sqrt(29.125)/0.1 = 53.967.
    d = (1000 + 3 * np.arange(8, dtype=np.float32)).reshape(1, 8, 1, 1)
    m = ramp(d, EXP_TYPE="FGS_FINEGUIDE", TGROUP=0.1, TFRAME=0.1, **FGS)
    out, _ = guider_cds.run(m, _refs((1, 1)), guider_cds.Params())
    assert out.data.ravel().tolist() == pytest.approx([120.0])
    assert out.err.ravel().tolist() == pytest.approx([np.sqrt(29.125) / 0.1], rel=1e-6)


def test_id_modes_min_of_two_integrations():
    d = np.zeros((2, 2, 1, 2), np.float32)
    d[:, 0] = 10
    d[0, 1, 0], d[1, 1, 0] = [20, 30], [15, 35]
    # integration 0 diffs: [10, 20]; integration 1: [5, 25] -> min [5, 20] / 0.5 = [10, 40]
    for exp in ("FGS_ID-IMAGE", "FGS_ID-STACK"):
        m = ramp(d, EXP_TYPE=exp, TGROUP=0.5, TFRAME=0.5, **FGS)
        out, _ = guider_cds.run(m, _refs((1, 2)), guider_cds.Params())
        assert out.data.shape == (1, 1, 2) and out.data.ravel().tolist() == [10.0, 40.0]


def test_bad_gain_and_missing_references():
    d = np.array([10, 20], np.float32).reshape(1, 2, 1, 1)
    m = ramp(d, EXP_TYPE="FGS_TRACK", TGROUP=1.0, TFRAME=1.0, **FGS)
    out, _ = guider_cds.run(m, _refs((1, 1), gain=0.0), guider_cds.Params())
    assert out.err[0, 0, 0] == pytest.approx(10.0)  # read noise only
    assert out.dq[0, 0] & dqflags.NO_GAIN_VALUE
    out, rep = guider_cds.run(m, {}, guider_cds.Params())
    assert np.isnan(out.err).all() and "not computed" in rep.note and out.data[0, 0, 0] == 10.0
    m = ramp(np.ones((1, 4, 1, 1)), EXP_TYPE="FGS_FINEGUIDE", **FGS)
    with pytest.raises(BadInputError, match="at least 8 groups"):
        guider_cds.run(m, _refs((1, 1)), guider_cds.Params())


@pytest.mark.parametrize("exp_type,ngroups", [("FGS_TRACK", 2), ("FGS_FINEGUIDE", 8)])
def test_err_matches_monte_carlo(exp_type, ngroups):
    """Yardstick: simulated guider ramps (Poisson electrons at 4000 e-/s, gain 2 e-/DN, read noise
    7.07 DN per read = 10 DN CDS).  The std of the measured rates over 20000 pixels must equal the
    ERR within 3 % (the sampling error of a std from 20000 draws is 0.5 %, so 3 % is 6 sigma)."""
    rng = np.random.default_rng(4)
    npix, tg, gain, rn_read = 20000, 0.1, 2.0, 10.0 / np.sqrt(2)
    electrons = np.cumsum(rng.poisson(4000 * tg, (ngroups, npix)), axis=0)
    dn = electrons / gain + rng.normal(0, rn_read, (ngroups, npix)) + 1000
    m = ramp(dn.reshape(1, ngroups, 1, npix), EXP_TYPE=exp_type, TGROUP=tg, TFRAME=tg, **FGS)
    out, _ = guider_cds.run(m, _refs((1, npix), gain=gain), guider_cds.Params())
    measured = out.data.std()
    predicted = np.sqrt(np.mean(out.err ** 2))
    assert measured == pytest.approx(predicted, rel=0.03)


def test_poisson_factor():
    assert guider_cds.poisson_factor(2, 1) == 1.0
    assert guider_cds.poisson_factor(8, 4) == 0.6875


def test_real_fgs_acq1_exposure(fgs_acq1):
    """The real ACQ1 file (6 x 2 x 128 x 128) through dq_init -> guider_cds -> flat_field with
    small hand-made references: a finite 3-D (6, 128, 128) product, DN/s."""
    m = read_raw(fgs_acq1)
    shape = m.pixeldq.shape
    mask = np.zeros(shape, np.uint32)
    mask[0, 0] = dqflags.DO_NOT_USE | dqflags.DEAD
    m, _ = dq_init.run(m, {"mask": ref("mask", DQ=mask)}, dq_init.Params())
    out, rep = guider_cds.run(m, _refs(shape, gain=2.0, rn=12.0), guider_cds.Params())
    assert rep.status == "COMPLETE"
    flat = np.full(shape, 1.01)
    out, _ = flat_field.run(out, {"flat": ref("flat", SCI=flat, ERR=np.full(shape, 0.005))})
    assert out.data.shape == (6, 128, 128) and out.err.shape == (6, 128, 128)
    assert np.isfinite(out.data).all() and np.isfinite(out.err).all()
    assert out.dq.shape == (128, 128) and out.dq[0, 0] == dqflags.DO_NOT_USE | dqflags.DEAD
    expected = (m.data[:, 1].astype(np.float64) - m.data[:, 0]) / m.meta.tgroup / 1.01
    np.testing.assert_allclose(out.data, expected, rtol=1e-5)
