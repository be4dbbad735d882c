"""streamcal.sim.ramps: the array-level MULTIACCUM simulator and the truth it returns."""

from __future__ import annotations

import numpy as np
import pytest

from streamcal.sim.ramps import CosmicRay, RampTruth, group_of_frame, simulate_ramps


class TestGroupOfFrame:
    def test_one_frame_per_group(self):
        # NFRAMES=1, no gap: frame f is read as group f, so a hit before frame f shows in group f
        assert [group_of_frame(f, 1, 0) for f in range(4)] == [0, 1, 2, 3]

    def test_frame_averaging_and_gap(self):
        # NFRAMES=4, GROUPGAP=1: period 5; frames 0-3 group 0, 4 dropped, 5-8 group 1.
        # hit before frame 1: group 0 gets 3/4 of it -> group 0; frame 2: 2/4 vs 2/4 -> group 0;
        # frame 3: 1/4 -> most in the next difference -> group 1; frame 4 (dropped) -> group 1
        assert [group_of_frame(f, 4, 1) for f in (0, 1, 2, 3, 4, 5, 8)] == [0, 0, 0, 1, 1, 1, 2]


class TestSimulateRamps:
    def test_shape_dtype_and_reset(self):
        ramps, truth = simulate_ramps(np.full((3, 4), 5.0), nints=2, ngroups=6, tframe=2.0,
                                      dtype=np.float64, rng=1)
        assert ramps.shape == (2, 6, 3, 4) and ramps.dtype == np.float64
        assert isinstance(truth, RampTruth) and truth.jump_groups.shape == (2, 6, 3, 4)
        assert truth.cosmic_rays == [] and not truth.jump_groups.any()
        np.testing.assert_array_equal(truth.rate_e, 5.0)

    def test_reproducible_from_seed(self):
        kw = dict(nints=1, ngroups=4, tframe=10.0, cr_per_pixel_per_s=1e-3)
        a, ta = simulate_ramps(np.full((8, 8), 3.0), rng=7, **kw)
        b, tb = simulate_ramps(np.full((8, 8), 3.0), rng=np.random.default_rng(7), **kw)
        np.testing.assert_array_equal(a, b)
        assert ta.cosmic_rays == tb.cosmic_rays

    def test_zero_rate_no_noise_is_zero(self):
        ramps, _ = simulate_ramps(np.zeros((2, 2)), nints=1, ngroups=3, tframe=1.0, read_noise_e=0.0)
        np.testing.assert_array_equal(ramps, 0.0)

    def test_cosmic_rays_exact_charge_and_truth(self):
        # rate 0 and no read noise: every group value is exactly the CR charge it has seen.
        # With NFRAMES=4, GROUPGAP=1 a hit before frame f adds E * (#frames of group g read at
        # or after f) / 4 to group g.
        ramps, truth = simulate_ramps(np.zeros((6, 6)), nints=2, ngroups=4, nframes=4, groupgap=1,
                                      tframe=1.0, read_noise_e=0.0, cr_per_pixel_per_s=0.02,
                                      dtype=np.float64, rng=3)
        assert len(truth.cosmic_rays) > 5
        expected = np.zeros_like(ramps)
        jumps = np.zeros_like(truth.jump_groups)
        for cr in truth.cosmic_rays:
            assert isinstance(cr, CosmicRay) and 500 <= cr.electrons <= 30000
            for g in range(4):
                frames = np.arange(g * 5, g * 5 + 4)
                expected[cr.integration, g, cr.y, cr.x] += cr.electrons * np.mean(frames >= cr.frame)
            jumps[cr.integration, group_of_frame(cr.frame, 4, 1), cr.y, cr.x] = True
        np.testing.assert_allclose(ramps, expected, rtol=1e-12)
        np.testing.assert_array_equal(truth.jump_groups, jumps)

    def test_mean_and_variance_nframes_groupgap(self):
        # rate r = 20 e-/s, TFRAME = 1 s, NFRAMES = 2, GROUPGAP = 1: group g averages frames
        # 3g and 3g+1, read after 3g+1 and 3g+2 s of integration: mean r*(3g + 1.5).
        # Variance of the mean of two cumulative Poisson reads (counts N1, N1+dN):
        # var((2 N1 + dN)/2) = r(3g+1) + r/4, plus read noise rn^2/2 (rn = 5 e-).
        r, rn, g = 20.0, 5.0, np.arange(3)
        ramps, _ = simulate_ramps(np.full((200, 200), r), nints=1, ngroups=3, nframes=2,
                                  groupgap=1, tframe=1.0, read_noise_e=rn, dtype=np.float64, rng=5)
        flat = ramps[0].reshape(3, -1)
        mean_expected = r * (3 * g + 1.5)
        var_expected = r * (3 * g + 1) + r / 4 + rn**2 / 2
        # 40000 pixels: standard error of the mean sqrt(var/4e4) < 0.06 e-; of the variance
        # var*sqrt(2/4e4) ~ 0.7 %.  Tolerances are > 5 standard errors.
        np.testing.assert_allclose(flat.mean(axis=1), mean_expected, atol=0.35)
        np.testing.assert_allclose(flat.var(axis=1), var_expected, rtol=0.04)

    def test_full_well_clips(self):
        ramps, _ = simulate_ramps(np.full((4, 4), 1e4), nints=1, ngroups=5, tframe=1.0,
                                  read_noise_e=0.0, full_well_e=25000.0, rng=0)
        # 1e4 e-/s: 1e4, 2e4, then clipped at 25000 for the last three groups (Poisson aside)
        np.testing.assert_array_equal(ramps[0, 2:], 25000.0)
        assert np.all(ramps[0, :2] < 25000.0)

    def test_per_pixel_read_noise(self):
        rn = np.zeros((50, 50))
        rn[:, 25:] = 10.0
        ramps, _ = simulate_ramps(np.zeros((50, 50)), nints=1, ngroups=2, tframe=1.0,
                                  read_noise_e=rn, dtype=np.float64, rng=2)
        assert np.all(ramps[..., :25] == 0.0)
        assert 8.5 < ramps[..., 25:].std() < 11.5  # 2500 samples of sigma 10

    @pytest.mark.parametrize("kwargs, match", [
        (dict(rate_e=np.ones(4)), "2-D"),
        (dict(rate_e=-np.ones((2, 2))), ">= 0"),
        (dict(rate_e=np.ones((2, 2)), ngroups=0), "ngroups"),
        (dict(rate_e=np.ones((2, 2)), tframe=0.0), "tframe"),
    ])
    def test_bad_arguments(self, kwargs, match):
        args = dict(nints=1, ngroups=2, tframe=1.0) | kwargs
        rate = args.pop("rate_e")
        with pytest.raises(ValueError, match=match):
            simulate_ramps(rate, **args)
