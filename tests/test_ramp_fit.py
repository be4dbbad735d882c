"""Ramp fitting (OLS_C): hand-worked slopes and variances, the kernels, the step.

Unless stated otherwise: gain g = 2 e-/DN, CDS read noise 10 DN, NFRAMES 1, TGROUP = TFRAME =
10 s.  The fit uses the single-read noise R = 10 * 2 / sqrt(2) e-, R^2 = 200 e^2, so the
read-noise variance of an n-group segment slope is
``12 R^2 / ((n^3 - n) TGROUP^2 g^2) = 6 / (n^3 - n)`` (DN/s)^2: 0.05 for n = 5, 0.25 for n = 3.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from streamcal import dqflags
from streamcal.errors import NotImplementedStepError
from streamcal.models import ExposureMeta, RampFitOutput, RampModel
from streamcal.refs.model import RefData
from streamcal.steps import ramp_fit
from streamcal.steps._ramputil import (median_prefix, merge_exchange_network, nanmedian,
                                       plane_all_have, sort_columns, sort_prefix)
from streamcal.steps.ramp_fit import fit_ramps
from streamcal.steps.ramp_fit.exposure import (group_range, group_selection_flags,
                                               single_read_noise_e)
from streamcal.steps.ramp_fit.ols import (find_segments, ols_segment_slope, poisson_var,
                                          power_index, rnoise_var, segment_snr, weight_row,
                                          weight_table)
from streamcal.steps.ramp_fit.rowfast import full_segment_weights

DNU, SAT, JUMP = dqflags.DO_NOT_USE, dqflags.SATURATED, dqflags.JUMP_DET
PERS, CLOSS = dqflags.PERSISTENCE, dqflags.CHARGELOSS


def to_4d(per_pixel, dtype):
    """(npix, ngroups) or (npix, nints, ngroups) -> (nints, ngroups, 1, npix)."""
    a = np.asarray(per_pixel, dtype)
    if a.ndim == 2:
        a = a[:, None, :]
    return np.ascontiguousarray(a.transpose(1, 2, 0)[:, :, None, :])


def fit(ramps, gdq=None, gain=2.0, **kw):
    """Fit ramps given per pixel (DN), along a 1 x npix image; DQ likewise."""
    data = to_4d(ramps, np.float32)
    gdq = np.zeros(data.shape, np.uint8) if gdq is None else to_4d(gdq, np.uint8)
    npix = data.shape[3]
    kw = dict(tframe=10.0, tgroup=10.0, nframes=1) | kw
    return fit_ramps(data, gdq, kw.pop("pixeldq", np.zeros((1, npix), np.uint32)),
                     np.full((1, npix), gain, np.float32), np.full((1, npix), 10.0, np.float32), **kw)


class TestHandWorked:
    def test_linear_ramp_exact_slope_and_variances(self):
        # y = 100 + 5 g DN: slope 5 / 10 s = 0.5 DN/s.  SNR = 20*2/sqrt(200 + 40) = 2.6 < 5:
        # uniform weights.  VAR_RNOISE = 6/120 = 0.05; median rate 0.5 DN/s ->
        # VAR_POISSON = 0.5 / (10 * 2 * (5 - 1)) = 0.00625; ERR = sqrt(0.05625)
        rate, ints = fit([[100 + 5 * g for g in range(5)]])
        assert rate.slope[0, 0] == pytest.approx(0.5, rel=1e-6)
        assert rate.var_rnoise[0, 0] == pytest.approx(0.05, rel=1e-6)
        assert rate.var_poisson[0, 0] == pytest.approx(0.00625, rel=1e-6)
        assert rate.err[0, 0] == pytest.approx(np.sqrt(0.05625), rel=1e-6)
        assert rate.dq[0, 0] == 0 and ints.slope.shape == (1, 1, 1)
        assert ints.slope[0, 0, 0] == pytest.approx(0.5, rel=1e-6)

    def test_segments_split_by_a_jump(self):
        # 0 10 20 | 520 530 540 with JUMP_DET on group 3: segments (0,1,2) and (3,4,5), both
        # 1 DN/s.  Each n = 3: VAR_RNOISE 0.25 -> combined 0.125.  Median of the rate
        # differences (jump excluded) is 1 DN/s -> VAR_POISSON 1/(10*2*2) = 0.025 per segment,
        # 0.0125 combined.  JUMP_DET goes into the rate DQ.
        rate, _ = fit([[0, 10, 20, 520, 530, 540]], gdq=[[0, 0, 0, JUMP, 0, 0]])
        assert rate.slope[0, 0] == pytest.approx(1.0, rel=1e-6)
        assert rate.var_rnoise[0, 0] == pytest.approx(0.125, rel=1e-6)
        assert rate.var_poisson[0, 0] == pytest.approx(0.0125, rel=1e-6)
        assert rate.dq[0, 0] == JUMP

    def test_saturated_group_zero_and_partial_saturation(self):
        # pixel 0: saturated from group 0 -> no slope, DO_NOT_USE | SATURATED, zero variances.
        # pixel 1: groups 3, 4 saturated -> slope from groups 0-2 (10 DN/group = 1 DN/s),
        # flagged SATURATED but usable.
        ramps = [[0, 0, 0, 0, 0], [0, 10, 20, 99, 99]]
        gdq = [[SAT] * 5, [0, 0, 0, SAT, SAT]]
        rate, ints = fit(ramps, gdq=gdq)
        assert np.isnan(rate.slope[0, 0]) and rate.dq[0, 0] == DNU | SAT
        assert rate.err[0, 0] == 0 and rate.var_poisson[0, 0] == 0
        assert rate.slope[0, 1] == pytest.approx(1.0, rel=1e-6) and rate.dq[0, 1] == SAT
        assert rate.var_rnoise[0, 1] == pytest.approx(0.25, rel=1e-6)

    def test_suppress_one_group(self):
        # only group 0 (50 DN) unsaturated.  Suppressed (default): DO_NOT_USE, no slope.
        # Not suppressed: 50 DN over the one-group time (NFRAMES+1)/2 * TFRAME = 10 s = 5 DN/s;
        # VAR_RNOISE 12 (R/10)^2 / (6 g^2) = 1.0; median rate 5 -> VAR_POISSON 5/(10*2) = 0.25
        ramps, gdq = [[50, 99, 99, 99]], [[0, SAT, SAT, SAT]]
        rate, _ = fit(ramps, gdq=gdq)
        assert np.isnan(rate.slope[0, 0]) and rate.dq[0, 0] == DNU | SAT
        rate, _ = fit(ramps, gdq=gdq, suppress_one_group=False)
        assert rate.slope[0, 0] == pytest.approx(5.0, rel=1e-6) and rate.dq[0, 0] == SAT
        assert rate.var_rnoise[0, 0] == pytest.approx(1.0, rel=1e-6)
        assert rate.var_poisson[0, 0] == pytest.approx(0.25, rel=1e-6)

    def test_integrations_combine_with_read_noise_weights(self):
        # two integrations at 1 and 3 DN/s with equal read noise -> rate 2 DN/s; median rate
        # (1 + 3)/2 = 2 -> VAR_POISSON per integration 2/(10*2*4) = 0.025, combined 0.0125
        rate, ints = fit([[[10 * g for g in range(5)], [30 * g for g in range(5)]]])
        np.testing.assert_allclose(ints.slope[:, 0, 0], [1.0, 3.0], rtol=1e-6)
        assert rate.slope[0, 0] == pytest.approx(2.0, rel=1e-6)
        assert rate.var_poisson[0, 0] == pytest.approx(0.0125, rel=1e-6)
        assert rate.var_rnoise[0, 0] == pytest.approx(0.025, rel=1e-6)

    def test_bad_gain_and_pixel_dq(self):
        # gain 0: NO_GAIN_VALUE | DO_NOT_USE and NaN; PIXELDQ bits are carried into the DQ
        rate, _ = fit([[0, 10, 20]], gain=0.0)
        assert np.isnan(rate.slope[0, 0])
        assert rate.dq[0, 0] == dqflags.NO_GAIN_VALUE | DNU
        rate, _ = fit([[0, 10, 20]], pixeldq=np.array([[dqflags.HOT]], np.uint32))
        assert rate.dq[0, 0] == dqflags.HOT and rate.slope[0, 0] == pytest.approx(1.0)

    def test_first_and_last_group(self):
        # an unflagged 1000 DN jump into group 5: lastgroup=4 ignores it -> 1 DN/s
        ramp = [[0, 10, 20, 30, 40, 1050]]
        assert fit(ramp)[0].slope[0, 0] > 5
        assert fit(ramp, lastgroup=4)[0].slope[0, 0] == pytest.approx(1.0, rel=1e-6)
        assert fit(ramp, firstgroup=1, lastgroup=4)[0].slope[0, 0] == pytest.approx(1.0, rel=1e-6)

    def test_chargeloss_read_noise_recomputed(self):
        # groups 3, 4 CHARGELOSS | DO_NOT_USE: the slope comes from groups 0-2 (1 DN/s, VAR
        # 0.25 read noise), then VAR_RNOISE is recomputed with all 5 groups: 0.05.  As in stcal
        # ERR is not recomputed: sqrt(VAR_POISSON + 0.25) with VAR_POISSON = 1/(10*2*2)
        rate, _ = fit([[0, 10, 20, 25, 27]], gdq=[[0, 0, 0, CLOSS | DNU, CLOSS | DNU]])
        assert rate.slope[0, 0] == pytest.approx(1.0, rel=1e-6)
        assert rate.var_rnoise[0, 0] == pytest.approx(0.05, rel=1e-6)
        assert rate.err[0, 0] == pytest.approx(np.sqrt(0.025 + 0.25), rel=1e-6)

    def test_miri_leading_group_discarded(self):
        # MIRI, group 0 DO_NOT_USE everywhere: it is dropped, and the JUMP_DET on the new first
        # group is removed, so pixel 0 is one segment of groups 1-4 (2 DN/s)
        ramps = [[0, 20, 40, 60, 80], [0, 10, 20, 30, 40]]
        gdq = [[DNU, JUMP, 0, 0, 0], [DNU, 0, 0, 0, 0]]
        rate, _ = fit(ramps, gdq=gdq, instrument="MIRI")
        np.testing.assert_allclose(rate.slope[0], [2.0, 1.0], rtol=1e-6)
        assert rate.var_rnoise[0, 0] == pytest.approx(6 / 60, rel=1e-6)  # n = 4

    def test_clean_and_general_paths_agree(self):
        # a PERSISTENCE flag does not change the fit but sends a pixel down the general
        # per-pixel path: slopes and variances must be identical to the row fast path's
        rng = np.random.default_rng(4)
        ramps = np.cumsum(rng.normal(rng.uniform(0, 300, (40, 1, 1)), 8, (40, 3, 7)), axis=2)
        clean = fit(ramps)  # 40 pixels, 3 integrations, 7 groups
        gdq = np.zeros((40, 3, 7), np.uint8)
        gdq[:, 1, 3] = PERS
        general = fit(ramps, gdq=gdq)
        for a, b in ((clean[0], general[0]), (clean[1], general[1])):
            for name in ("slope", "var_poisson", "var_rnoise", "err"):
                np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-6,
                                           err_msg=name)
        assert np.all(general[0].dq == PERS) and np.all(clean[0].dq == 0)


class TestKernels:
    def test_weights(self):
        # n = 5, mid = 2: |j - 2|/2 = 1, 0.5, 0, 0.5, 1, to the powers 0, 0.4, 1, 3, 6, 10
        w = weight_row(5)
        np.testing.assert_array_equal(w[0], 1.0)  # 0^0 = 1
        np.testing.assert_allclose(w[1], [1, 0.5**0.4, 0, 0.5**0.4, 1], rtol=1e-6)
        np.testing.assert_array_equal(w[3], [1, 0.125, 0, 0.125, 1])
        table = weight_table(6)
        np.testing.assert_array_equal(table[:, 5, :5], w)
        assert table.shape == (6, 7, 6) and not table[:, :3].any()

    def test_ols_segment_slope(self):
        # y = 7 + 3 j DN over groups 2..6 of a ramp, TGROUP 10 s: 0.3 DN/s whatever the
        # weights (SNR 50 -> P = 6, SNR 1 -> P = 0)
        d = np.array([0, 0, 13, 16, 19, 22, 25], np.float64)
        wtab = weight_table(7)
        assert ols_segment_slope(d, 2, 5, 50.0, wtab, 10.0, 10.0) == pytest.approx(0.3)
        assert ols_segment_slope(d, 2, 5, 1.0, wtab, 10.0, 10.0) == pytest.approx(0.3)

    def test_full_segment_weights(self):
        # n = 3, P = 0: weights 1, 1, 1 -> sum w = 3, sum j w = 3, D = 3 * 5 - 9 = 6;
        # P > 0: the middle weight is 0 -> 2, 2, D = 2 * 4 - 4 = 4
        w, wj, const = full_segment_weights(3)
        np.testing.assert_array_equal(w[0], [1, 1, 1])
        np.testing.assert_array_equal(wj[0], [0, 1, 2])
        np.testing.assert_array_equal(const[0], [3, 3, 6])
        np.testing.assert_array_equal(const[4], [2, 2, 4])

    @pytest.mark.parametrize("snr, index", [(0, 0), (4.99, 0), (5, 1), (10, 2), (20, 3),
                                            (50, 4), (99.9, 4), (100, 5), (np.nan, 5)])
    def test_power_index(self, snr, index):
        assert power_index(snr) == index

    def test_segment_snr(self):
        # (100 - 0) DN * 2 e-/DN = 200 e-, read noise 10 e-: 200/sqrt(100 + 200)
        assert segment_snr(0.0, 100.0, 2.0, 10.0) == pytest.approx(200 / np.sqrt(300))
        assert segment_snr(100.0, 0.0, 2.0, 10.0) == 0.0  # negative signal
        assert segment_snr(0.0, 100.0, 0.0, 10.0) == 0.0  # no gain

    def test_variance_formulas(self):
        # R = 10 e-, TGROUP 10 s, g 2: 12 (10/10)^2 / ((n^3 - n) * 4); n <= 2 uses 6
        assert rnoise_var(5, 10.0, 2.0, 10.0) == pytest.approx(12 / (120 * 4))
        assert rnoise_var(2, 10.0, 2.0, 10.0) == pytest.approx(12 / (6 * 4))
        assert rnoise_var(1, 5.0, 2.0, 10.0) == pytest.approx(12 * 4 / (6 * 4))
        assert rnoise_var(5, 10.0, 0.0, 10.0) == 0.0
        # (median 3 + dark 1) / (TGROUP g (n-1)); non-positive median: dark only
        assert poisson_var(5, 10.0, 2.0, 3.0, 1.0) == pytest.approx(4 / 80)
        assert poisson_var(2, 10.0, 2.0, -3.0, 1.0) == pytest.approx(1 / 20)

    @pytest.mark.parametrize("q, expected", [
        ([0, 0, 0, 0, 0], [(0, 5)]),
        ([0, 0, JUMP, 0, 0], [(0, 2), (2, 5)]),          # jump group opens the next segment
        ([0, 0, JUMP, JUMP, 0], [(0, 2), (3, 5)]),       # only the last jump before good
        ([0, PERS, 0], [(0, 3)]),                        # PERSISTENCE ignored
        ([0, JUMP | PERS, 0], [(1, 3)]),                 # ... also next to JUMP; 1-group dropped
        ([0, DNU, 0, 0, DNU, 0], [(2, 4)]),              # 1-group segments dropped
        ([0, DNU, 0, DNU, 0], [(0, 1)]),                 # all 1-group: keep the first
        ([0, SAT, SAT], [(0, 1)]),
        ([DNU, DNU, DNU], []),
    ])
    def test_find_segments(self, q, expected):
        segs = np.zeros((len(q) + 1, 2), np.int64)
        n = find_segments(np.array(q, np.uint32), False, PERS, JUMP, SAT, segs)
        assert [tuple(s) for s in segs[:n]] == expected

    def test_find_segments_saturated_group_zero(self):
        segs = np.zeros((4, 2), np.int64)
        q = np.array([SAT, SAT, 0], np.uint32)
        assert find_segments(q, False, PERS, JUMP, SAT, segs) == -1
        assert find_segments(q, True, PERS, JUMP, SAT, segs) == 1  # CHARGELOSS pass: no check

    def test_group_selection_and_range(self):
        np.testing.assert_array_equal(group_selection_flags(5, None, None), 0)
        np.testing.assert_array_equal(group_selection_flags(5, 1, 3), [DNU, 0, 0, 0, DNU])
        gdq = np.zeros((2, 6, 2, 2), np.uint8)
        assert group_range(gdq, np.zeros(6, np.uint32), "NIRCAM") == (0, 6)
        gdq[:, 0] = DNU
        gdq[:, 5] = DNU
        assert group_range(gdq, np.zeros(6, np.uint32), "MIRI") == (1, 5)
        # groups 0-3 DO_NOT_USE by firstgroup=4: leading 0-3 and then the last (5) dropped,
        # one group left < 2: nothing to fit
        assert group_range(gdq, group_selection_flags(6, 4, 5), "MIRI") is None

    def test_single_read_noise(self):
        # 10 DN CDS * 2 e-/DN / sqrt(2 * 1) = 14.142 e-; NFRAMES = 4: / sqrt(8)
        rn = single_read_noise_e(np.full((1, 2), 10.0, np.float32), np.full((1, 2), 2.0, np.float32), 4)
        assert rn.dtype == np.float32 and rn[0, 0] == pytest.approx(20 / np.sqrt(8))


class TestRampUtil:
    def test_network_sorts(self):
        rng = np.random.default_rng(1)
        for n in (0, 1, 2, 3, 9, 17, 33):
            pairs = merge_exchange_network(n)
            vals = rng.integers(0, 4, (n, 5)).astype(np.float64)  # ties included
            expected = np.sort(vals, axis=0)
            sort_columns(vals, pairs, 5)
            np.testing.assert_array_equal(vals, expected)

    def test_sort_and_medians(self):
        rng = np.random.default_rng(2)
        for n in (1, 2, 7, 8, 31, 40):
            v = rng.normal(size=n)
            w = v.copy()
            sort_prefix(w, n)
            np.testing.assert_array_equal(w, np.sort(v))
            assert median_prefix(v.copy(), n) == np.median(v)
            v[1::3] = np.nan
            assert nanmedian(v, n, np.empty(n)) == np.nanmedian(v)
        assert np.isnan(nanmedian(np.array([np.nan]), 1, np.empty(1)))

    def test_plane_all_have(self):
        plane = np.array([[1, 3], [5, 1]], np.uint8)
        assert plane_all_have(plane, 1) and not plane_all_have(plane, 2)


def ramp_model(ngroups=5, nints=1, instrument="NIRCAM"):
    header = fits.Header({"INSTRUME": instrument, "DETECTOR": "NRCA1", "EXP_TYPE": "NRC_IMAGE",
                          "NINTS": nints, "NGROUPS": ngroups, "NFRAMES": 1, "GROUPGAP": 0,
                          "TFRAME": 10.0, "TGROUP": 10.0})
    data = (np.arange(ngroups, dtype=np.float32)[None, :, None, None] * 10
            * np.ones((nints, 1, 2, 3), np.float32))
    return RampModel(meta=ExposureMeta.from_header(header, data.shape), header=header, data=data,
                     pixeldq=np.zeros((2, 3), np.uint32), groupdq=np.zeros(data.shape, np.uint8),
                     int_times=np.zeros(nints))


def refs(gainfact=None):
    gain_header = fits.Header({"GAINFACT": gainfact} if gainfact else {})
    return {"gain": RefData("gain", "gain.fits", gain_header, {"SCI": np.full((2, 3), 2.0, np.float32)}),
            "readnoise": RefData("readnoise", "rn.fits", fits.Header(),
                                 {"SCI": np.full((2, 3), 10.0, np.float32)})}


class TestStep:
    def test_contract_and_params(self):
        assert (ramp_fit.NAME, ramp_fit.STATUS_KEYWORD) == ("ramp_fit", "S_RAMP")
        assert ramp_fit.REFTYPES == ("readnoise", "gain")
        with pytest.raises(ValueError, match="algorithm"):
            ramp_fit.Params(algorithm="GLS")
        with pytest.raises(ValueError, match="optimal"):
            ramp_fit.Params(weighting="unweighted")

    def test_run_products(self):
        model = ramp_model(nints=2)
        before = model.groupdq.copy()
        out, report = ramp_fit.run(model, refs(gainfact=2.0), ramp_fit.Params())
        assert isinstance(out, RampFitOutput) and report.status == "COMPLETE"
        assert out.rate.data.shape == (2, 3) and out.rateints.data.shape == (2, 2, 3)
        np.testing.assert_allclose(out.rate.data, 1.0, rtol=1e-6)  # 10 DN per 10 s
        assert out.rate.data.dtype == np.float32 and out.rate.dq.dtype == np.uint32
        assert out.rate.meta.gainfact == 2.0 and out.rate.header["GAINFACT"] == 2.0
        assert out.rateints.int_times is model.int_times
        np.testing.assert_array_equal(model.groupdq, before)  # the ramp is not modified

    def test_run_skips_and_refuses(self):
        _, report = ramp_fit.run(ramp_model(), {"gain": refs()["gain"]}, ramp_fit.Params())
        assert report.status == "SKIPPED" and "readnoise" in report.note
        model = ramp_model()
        model.groupdq[:] = SAT
        out, report = ramp_fit.run(model, refs(), ramp_fit.Params())
        assert out is model and report.status == "SKIPPED" and "saturated" in report.note
        with pytest.raises(NotImplementedStepError, match="LIKELY"):
            ramp_fit.run(ramp_model(), refs(), ramp_fit.Params(algorithm="LIKELY"))
        # LIKELY needs >= 4 groups; jwst falls back to OLS_C below that, and so do we
        out, report = ramp_fit.run(ramp_model(ngroups=3), refs(), ramp_fit.Params(algorithm="LIKELY"))
        assert report.status == "COMPLETE"
