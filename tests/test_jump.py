"""Jump detection: hand-worked cases for every rule, the kernels, the row screen, the step.

Unless stated otherwise: gain 1 e-/DN, CDS read noise 10 DN, NFRAMES 1, so the noise of a
difference is ``sigma = sqrt(|median| + 10^2 / 1) = 10`` e- on a flat (zero-rate) ramp.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from streamcal import dqflags
from streamcal.errors import NotImplementedStepError
from streamcal.models import ExposureMeta, RampModel
from streamcal.refs.model import RefData
from streamcal.steps import jump
from streamcal.steps.base import make_params
from streamcal.steps.jump import choose_method, flag_jumps_inplace, primary_cr_rate
from streamcal.steps.jump.detect import count_all_dnu_planes
from streamcal.steps.jump.screen import (make_screen_scratch, read_noise_var, screen_network,
                                         screen_row, sorted_median)
from streamcal.steps.jump.twopoint import (ITERATIVE, SINGLE_PASS, clipped_median, load_diffs,
                                           noise_sigma, iterative_search, single_pass_search)

DNU, SAT, JUMP = dqflags.DO_NOT_USE, dqflags.SATURATED, dqflags.JUMP_DET


def flat(ngroups, ny=2, nx=2, nints=1):
    """A zero-rate ramp with all DQ 0, its pixel DQ, gain 1 and CDS read noise 10 DN."""
    data = np.zeros((nints, ngroups, ny, nx), np.float32)
    return (data, np.zeros(data.shape, np.uint8), np.zeros((ny, nx), np.uint32),
            np.ones((ny, nx), np.float32), np.full((ny, nx), 10.0, np.float32))


def run(data, gdq, pdq, gain, rn, **kw):
    return flag_jumps_inplace(data, gdq, pdq, gain, rn, nframes=kw.pop("nframes", 1), **kw)


class TestHandWorked:
    def test_20_sigma_step_and_its_neighbours(self):
        # pixel (0,0) jumps by 200 DN between groups 2 and 3: |d| = 0, 0, 200, 0.  Four usable
        # differences: drop the largest, median of (0,0,0) = 0, sigma = 10, ratio 20 > 4.
        # Flag group 3 (the group after the jump).  Its signed ratio 20 lies in (10, 1000): the
        # side neighbours (0,1) and (1,0) get JUMP_DET in group 3 too, the diagonal (1,1) not.
        data, gdq, pdq, gain, rn = flat(5)
        data[0, 3:, 0, 0] = 200.0
        result = run(data, gdq, pdq, gain, rn)
        assert result.n_primary == 1 and result.method == "iterative"
        expected = np.zeros_like(gdq)
        expected[0, 3] = [[JUMP, JUMP], [JUMP, 0]]
        np.testing.assert_array_equal(gdq, expected)

    def test_no_neighbours_below_min_or_when_disabled(self):
        # a 60 DN step: ratio 6 > 4 is a jump, but 6 < min_jump_to_flag_neighbors = 10
        data, gdq, pdq, gain, rn = flat(5)
        data[0, 3:, 0, 0] = 60.0
        run(data, gdq, pdq, gain, rn)
        assert gdq[0, 3, 0, 0] == JUMP and np.count_nonzero(gdq) == 1
        data[0, 3:, 0, 0] = 200.0
        gdq[:] = 0
        run(data, gdq, pdq, gain, rn, flag_4_neighbors=False)
        assert np.count_nonzero(gdq) == 1

    def test_no_neighbours_above_max(self):
        # 20000 DN: ratio 2000 > max_jump_to_flag_neighbors = 1000 -> the pixel only
        data, gdq, pdq, gain, rn = flat(5)
        data[0, 3:, 0, 0] = 20000.0
        run(data, gdq, pdq, gain, rn)
        assert np.count_nonzero(gdq) == 1

    def test_neighbours_spare_saturated_and_do_not_use(self):
        data, gdq, pdq, gain, rn = flat(5, ny=3, nx=3)
        data[0, 3:, 1, 1] = 200.0
        gdq[0, 3:, 0, 1] = SAT
        gdq[0, 3, 1, 0] = DNU
        run(data, gdq, pdq, gain, rn)
        assert gdq[0, 3, 0, 1] == SAT and gdq[0, 3, 1, 0] == DNU
        assert gdq[0, 3, 1, 2] == JUMP and gdq[0, 3, 2, 1] == JUMP and gdq[0, 3, 1, 1] == JUMP

    @pytest.mark.parametrize("step, flagged", [(55.0, False), (65.0, True)])
    def test_three_groups_threshold_6(self, step, flagged):
        # 3 groups, |d| = 0, step: 2 usable -> median = the smaller = 0, sigma 10, ratio
        # step/10 against three_group_rejection_threshold = 6
        data, gdq, pdq, gain, rn = flat(3, ny=1, nx=1)
        data[0, 2, 0, 0] = step
        run(data, gdq, pdq, gain, rn)
        assert (gdq[0, 2, 0, 0] == JUMP) == flagged

    @pytest.mark.parametrize("step, flagged", [(45.0, False), (55.0, True)])
    def test_four_groups_threshold_5(self, step, flagged):
        # 4 groups, 3 usable |d| = 0, 0, step: plain median 0, ratio step/10 against 5
        data, gdq, pdq, gain, rn = flat(4, ny=1, nx=1)
        data[0, 3, 0, 0] = step
        run(data, gdq, pdq, gain, rn)
        assert (gdq[0, 3, 0, 0] == JUMP) == flagged

    def test_gain_and_read_noise_units(self):
        # gain 4 e-/DN: a 50 DN step is 200 e-; RN 10 DN = 40 e-, sigma 40, ratio 5 > 4 -> jump.
        # With gain 1 the same data give ratio 5 too: the test is unit-consistent either way.
        # NFRAMES = 4 divides the read-noise variance by 4: sigma 20 e-, ratio 10.
        data, gdq, pdq, gain, rn = flat(6, ny=1, nx=1)
        data[0, 4:, 0, 0] = 50.0
        run(data, gdq, pdq, gain * 4, rn)
        assert gdq[0, 4, 0, 0] == JUMP
        data[0, 4:, 0, 0] = 30.0  # 120 e-: ratio 3 with NFRAMES=1, 6 with NFRAMES=4
        gdq[:] = 0
        run(data, gdq, pdq, gain * 4, rn)
        assert not gdq.any()
        run(data, gdq, pdq, gain * 4, rn, nframes=4)
        assert gdq[0, 4, 0, 0] == JUMP

    def test_saturated_and_do_not_use_groups_are_not_jumps(self):
        # the step lands in a SATURATED group: its differences are NaN, nothing is flagged;
        # an input JUMP_DET on a DO_NOT_USE group is removed
        data, gdq, pdq, gain, rn = flat(5, ny=1, nx=1)
        data[0, 3:, 0, 0] = 500.0
        gdq[0, 3:, 0, 0] = SAT
        gdq[0, 1, 0, 0] = DNU | JUMP
        run(data, gdq, pdq, gain, rn)
        np.testing.assert_array_equal(gdq[0, :, 0, 0], [0, DNU, 0, SAT, SAT])

    def test_two_jumps_found_iteratively(self):
        # |d| = 0, 300, 0, 0, 150, 0: first 300 (ratio 30), then with it removed 150 (ratio 15)
        data, gdq, pdq, gain, rn = flat(7, ny=1, nx=1)
        data[0, 2:, 0, 0] += 300.0
        data[0, 5:, 0, 0] += 150.0
        result = run(data, gdq, pdq, gain, rn)
        assert result.n_primary == 2
        np.testing.assert_array_equal(np.flatnonzero(gdq[0, :, 0, 0]), [2, 5])

    def test_single_pass_with_many_groups(self):
        # 12 groups = 11 differences >= min_diffs_single_pass: one pass, signed median 0,
        # both steps (ratios 10 and 8) flagged at once
        data, gdq, pdq, gain, rn = flat(12, ny=1, nx=1)
        data[0, 3:, 0, 0] += 100.0
        data[0, 8:, 0, 0] += 80.0
        result = run(data, gdq, pdq, gain, rn)
        assert result.method == "single_pass"
        np.testing.assert_array_equal(np.flatnonzero(gdq[0, :, 0, 0]), [3, 8])

    def test_bad_gain_flags_pixel(self):
        data, gdq, pdq, gain, rn = flat(5)
        gain[0, 0], gain[0, 1] = 0.0, np.nan
        run(data, gdq, pdq, gain, rn)
        bad = np.uint32(dqflags.NO_GAIN_VALUE | DNU)
        np.testing.assert_array_equal(pdq, [[bad, bad], [0, 0]])

    def test_after_jump_flagging(self):
        # 200 DN jump at group 2 >= after_jump_flag_dn1 = 100 DN: flag 2 more groups (3, 4)
        data, gdq, pdq, gain, rn = flat(8, ny=1, nx=1)
        data[0, 2:, 0, 0] = 200.0
        run(data, gdq, pdq, gain, rn, after_jump_flag_dn1=100.0, after_jump_flag_n1=2)
        np.testing.assert_array_equal(np.flatnonzero(gdq[0, :, 0, 0]), [2, 3, 4])

    def test_sigma_clip_across_integrations(self):
        # 100 integrations (>= minimum_sigclip_groups with only_use_ints): group 2 of
        # integration 7 of pixel (0,0) is 1000 e- high; astropy sigma clipping across
        # integrations finds the differences into and out of it (+1000 and -1000): groups 2 and
        # 3 flagged there.
        rng = np.random.default_rng(0)
        data, gdq, pdq, gain, rn = flat(4, ny=1, nx=2, nints=100)
        data += rng.normal(0, 10, data.shape).astype(np.float32)
        data[7, 2, 0, 0] += 1000.0
        result = run(data, gdq, pdq, gain, rn, flag_4_neighbors=False)
        assert result.method == "sigma_clip"
        assert set(map(tuple, np.argwhere(gdq[..., 0, 0]))) == {(7, 2), (7, 3)}
        # stcal's quirk: a group plane in which every pixel is JUMP_DET (here: a 1-pixel
        # image) has its JUMP_DET-only pixels reset to 0
        data, gdq, pdq, gain, rn = flat(4, ny=1, nx=1, nints=100)
        data += rng.normal(0, 10, data.shape).astype(np.float32)
        data[7, 2, 0, 0] += 1000.0
        run(data, gdq, pdq, gain, rn)
        assert not gdq.any()


class TestKernels:
    def test_load_diffs_and_noise(self):
        # 0, 10, 30 DN at gain 2: differences 20 and 40 e-; a SATURATED group 2 makes the
        # second NaN.  RN 10 DN * gain 2 = 20 e- -> variance 400 e^2 per difference, / NFRAMES
        data = np.array([0, 10, 30], np.float32).reshape(1, 3, 1, 1)
        gdq = np.zeros(data.shape, np.uint8)
        diffs = np.empty(2)
        load_diffs(data, gdq, 0, 0, np.float32(2.0), DNU | SAT, diffs)
        assert diffs.tolist() == [20.0, 40.0]
        gdq[0, 2] = SAT
        load_diffs(data, gdq, 0, 0, np.float32(2.0), DNU | SAT, diffs)
        assert diffs[0] == 20.0 and np.isnan(diffs[1])
        assert read_noise_var(np.float32(10), np.float32(2), 1) == 400.0
        assert read_noise_var(np.float32(10), np.float32(2), 4) == 100.0
        assert noise_sigma(-44.0, 100.0) == 12.0 and np.isnan(noise_sigma(0.0, 0.0))

    def test_sorted_median(self):
        vals = np.array([[1.0], [2.0], [4.0], [9.0]])
        assert sorted_median(vals, 0, 3) == 2.0 and sorted_median(vals, 0, 4) == 3.0
        assert np.isnan(sorted_median(vals, 0, 0))

    def test_clipped_median_rules(self):
        work = np.empty(8)
        # >= 4 usable: every copy of the largest (5, 5) dropped -> median(1, 2) = 1.5
        assert clipped_median(np.array([1.0, 5.0, 2.0, 5.0, np.nan]), 5, work) == (1.5, 4)
        assert clipped_median(np.array([3.0, 1.0, 2.0]), 3, work) == (2.0, 3)
        assert clipped_median(np.array([3.0, np.nan, 1.0]), 3, work) == (1.0, 2)
        med, n = clipped_median(np.array([3.0, np.nan]), 2, work)
        assert np.isnan(med) and n == 1

    def test_iterative_search(self):
        diffs = np.array([0.0, 200.0, 0.0, 0.0, -90.0])
        flagged = np.zeros(5, bool)
        n = iterative_search(diffs, 5, 100.0, 4.0, 5.0, 6.0, np.empty(5), np.empty(5), flagged)
        # 200 (ratio 20) then |-90| (4 usable: drop max 90, median 0 -> ratio 9)
        assert n == 2 and flagged.tolist() == [False, True, False, False, True]

    def test_single_pass_search(self):
        diffs = np.array([10.0, 10.0, 60.0, 10.0, np.nan])
        flagged = np.zeros(5, bool)
        # median 10, sigma 10: |60 - 10| / 10 = 5 > 4
        assert single_pass_search(diffs, 5, 10.0, 10.0, 4.0, flagged) == 1
        assert flagged.tolist() == [False, False, True, False, False]

    def test_choose_method_and_all_dnu_planes(self):
        gdq = np.zeros((2, 12, 3, 3), np.uint8)
        kw = dict(minimum_groups=3, minimum_sigclip_groups=100, only_use_ints=True,
                  min_diffs_single_pass=10)
        assert choose_method(gdq, **kw) == "single_pass"       # 11 diffs per integration
        gdq[1, 10:] = DNU                                       # 2 all-DNU planes in int 1
        np.testing.assert_array_equal(count_all_dnu_planes(gdq), [0, 2])
        assert choose_method(gdq, **kw) == "iterative"          # 10 usable groups: 9 diffs
        gdq[0, 2:] = DNU
        assert choose_method(gdq, **kw) == "none"               # 2 usable groups < 3
        assert choose_method(gdq, **kw | dict(only_use_ints=False, minimum_sigclip_groups=12)) \
            == "sigma_clip"                                     # 24 - 12 = 12 groups

    def test_primary_cr_rate(self):
        # 3 jump groups, 2 ints x 5 groups, one all-DNU plane, 4 pixels, TGROUP 10 s:
        # usable groups 10 - 1 - 2 = 7 -> 1000 * 3 / (10 * 7 * 4)
        gdq = np.zeros((2, 5, 2, 2), np.uint8)
        gdq[1, 4] = DNU
        assert primary_cr_rate(3, gdq, 10.0) == pytest.approx(1000 * 3 / 280)
        assert primary_cr_rate(3, np.full((1, 1, 2, 2), DNU, np.uint8), 10.0) is None


class TestScreen:
    """The row screen may only pass pixels whose search would flag nothing."""

    @pytest.mark.parametrize("nints, ngroups, mode", [(1, 5, ITERATIVE), (2, 10, ITERATIVE),
                                                       (1, 4, ITERATIVE), (1, 16, SINGLE_PASS),
                                                       (3, 15, ITERATIVE)])  # last: range screen
    def test_screen_never_hides_a_jump(self, nints, ngroups, mode):
        rng = np.random.default_rng(ngroups)
        nx = 400
        data = (np.arange(ngroups)[None, :, None, None] * rng.uniform(0, 40, (1, 1, 1, nx))
                + rng.normal(0, 12, (nints, ngroups, 1, nx))).astype(np.float32)
        hits = rng.random((nints, ngroups, 1, nx)) < 0.01
        data += np.cumsum(hits * 80.0, axis=1).astype(np.float32)  # marginal jumps, ~4-8 sigma
        gdq = np.where(rng.random(data.shape) < 0.03, np.uint8(SAT), np.uint8(0))
        gain = np.ones((1, nx), np.float32)
        rn = np.full((1, nx), 10.0, np.float32)
        pairs = screen_network(nints, ngroups)
        need = np.zeros(nx, bool)
        screen_row(data, gdq, gain, rn, 0, 1, mode, 4.0, 5.0, 6.0, DNU | SAT, JUMP, pairs,
                   make_screen_scratch(nints, ngroups, nx, pairs), need)
        n = nints * (ngroups - 1)
        for x in np.flatnonzero(~need):
            d = np.diff(np.where(gdq[:, :, 0, x] & (DNU | SAT), np.nan, data[:, :, 0, x]), axis=1)
            d = d.astype(np.float64).ravel()
            flagged = np.zeros(n, bool)
            if mode == ITERATIVE:
                iterative_search(d, n, 100.0, 4.0, 5.0, 6.0, np.empty(n), np.empty(n), flagged)
            else:
                med = np.nanmedian(d)
                single_pass_search(d, n, med, np.sqrt(abs(med) + 100.0), 4.0, flagged)
            assert not flagged.any(), x
        assert 0 < need.sum() < nx  # the screen is neither trivially open nor shut


def ramp_model(ngroups=5, ny=3, nx=3, tgroup=10.0):
    header = fits.Header({"INSTRUME": "NIRCAM", "DETECTOR": "NRCA1", "EXP_TYPE": "NRC_IMAGE",
                          "NINTS": 1, "NGROUPS": ngroups, "NFRAMES": 1, "GROUPGAP": 0,
                          "TFRAME": tgroup, "TGROUP": tgroup})
    data = np.zeros((1, ngroups, ny, nx), np.float32)
    return RampModel(meta=ExposureMeta.from_header(header, data.shape), header=header, data=data,
                     pixeldq=np.zeros((ny, nx), np.uint32),
                     groupdq=np.zeros(data.shape, np.uint8))


def refs(ny=3, nx=3):
    return {"gain": RefData("gain", "gain.fits", fits.Header(),
                            {"SCI": np.ones((ny, nx), np.float32)}),
            "readnoise": RefData("readnoise", "rn.fits", fits.Header(),
                                 {"SCI": np.full((ny, nx), 10.0, np.float32)})}


class TestStep:
    def test_contract(self):
        assert (jump.NAME, jump.STATUS_KEYWORD, jump.REFTYPES) == ("jump", "S_JUMP", ("gain", "readnoise"))
        params = make_params(jump.Params, "jump", {"rejection_threshold": "5", "flag_4_neighbors": "no"})
        assert params.rejection_threshold == 5.0 and params.flag_4_neighbors is False
        with pytest.raises(ValueError, match="rejection_threshold"):
            jump.Params(rejection_threshold=-1.0)

    def test_run_flags_in_place_and_sets_primecrs(self):
        model = ramp_model()
        model.data[0, 3:, 1, 1] = 200.0
        out, report = jump.run(model, refs(), jump.Params())
        assert out is model and report.status == "COMPLETE"
        assert np.count_nonzero(model.groupdq) == 5  # the jump and its 4 neighbours
        # 1 primary jump group; usable groups 5 - 1 = 4; 9 pixels; TGROUP 10 s
        assert report.keywords["PRIMECRS"] == pytest.approx(1000 / (10 * 4 * 9))

    def test_run_skips(self):
        out, report = jump.run(ramp_model(ngroups=2), refs(), jump.Params())
        assert report.status == "SKIPPED" and "NGROUPS=2" in report.note
        out, report = jump.run(ramp_model(), {"gain": refs()["gain"]}, jump.Params())
        assert report.status == "SKIPPED" and "readnoise" in report.note

    def test_unimplemented_extensions_raise(self):
        with pytest.raises(NotImplementedStepError, match="snowballs"):
            jump.run(ramp_model(), refs(), jump.Params(expand_large_events=True))
