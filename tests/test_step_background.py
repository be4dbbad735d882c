"""background: combining dedicated background exposures (sigma-clipped mean, error of the mean, DQ OR)
and subtracting them.  Yardsticks: astropy's sigma_clip called directly, hand-worked numbers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from astropy.stats import sigma_clip

from streamcal import dqflags
from streamcal.errors import NotImplementedStepError
from streamcal.models import ExposureMeta, ImageModel
from streamcal.steps import background
from stepkit import header


def _image(data, err=None, dq=None, **keys) -> ImageModel:
    data = np.asarray(data, np.float32)
    ny, nx = data.shape[-2:]
    hdr = header(1, 2, ny, nx, **keys)
    meta = ExposureMeta.from_header(hdr, (1, 2, ny, nx))
    err = np.full(data.shape, 0.5, np.float32) if err is None else np.asarray(err, np.float32)
    dq = np.zeros(data.shape, np.uint32) if dq is None else np.asarray(dq, np.uint32)
    return ImageModel(meta, hdr, data, err, dq, var_poisson=err ** 2, var_rnoise=np.zeros_like(err))


class TestClippedMean:
    def test_against_astropy_sigma_clip(self):
        # 8 members around 5 with one 50 outlier per pixel column: the mean must equal
        # astropy's clipped mean, the error sqrt(sum err^2)/n over the same kept values.
        rng = np.random.default_rng(1)
        data = rng.normal(5.0, 0.1, (8, 3, 4))
        data[2, 1, 1] = 50.0
        err = rng.uniform(0.1, 0.2, data.shape)
        mean, emean = background.clipped_mean_with_error(data, err, sigma=3.0, maxiters=None)
        clipped = sigma_clip(data, sigma=3.0, maxiters=None, axis=0)
        np.testing.assert_allclose(mean, clipped.mean(axis=0).data, rtol=1e-6)
        keep = ~clipped.mask
        want = np.sqrt((np.where(keep, err, 0) ** 2).sum(axis=0)) / keep.sum(axis=0)
        np.testing.assert_allclose(emean, want, rtol=1e-6)
        assert keep[:, 1, 1].sum() == 7  # the outlier went

    def test_nan_samples_do_not_vote_and_empty_gives_nan(self):
        data = np.array([[[1.0, np.nan]], [[3.0, np.nan]]])
        mean, err = background.clipped_mean_with_error(data, np.ones_like(data))
        assert mean[0, 0] == 2.0 and err[0, 0] == pytest.approx(np.sqrt(2) / 2)
        assert np.isnan(mean[0, 1]) and np.isnan(err[0, 1])


class TestCombine:
    def test_rate_members_and_dq(self):
        # Three members of 2, 4, 6 DN/s (ERR 0.3): mean 4, error sqrt(3 * 0.09)/3 = 0.1732;
        # DQ OR of the members' flags.
        members = [_image(np.full((2, 2), v), err=np.full((2, 2), 0.3)) for v in (2.0, 4.0, 6.0)]
        members[1].dq[0, 0] = dqflags.HOT
        members[2].dq[0, 0] = dqflags.DQ["WARM"]
        bkg = background.combine_backgrounds(members, members[0].meta)
        np.testing.assert_allclose(bkg.data, 4.0)
        np.testing.assert_allclose(bkg.err, np.sqrt(3 * 0.09) / 3, rtol=1e-6)
        assert bkg.dq[0, 0] == dqflags.HOT | dqflags.DQ["WARM"] and bkg.dq[1, 1] == 0

    def test_rateints_member_reduced_along_integrations_first(self):
        # A 3-integration member [1, 2, 30] (30 a cosmic-ray hit).  astropy clips about the
        # median (2) with the std (13.2): at sigma 1.2 the bound is 2 +- 15.8, so 30 goes; then
        # [1, 2] (median 1.5, std 0.5, bound +-0.6) stays: mean 1.5, error sqrt(2 * 0.25)/2.
        # With a second (rate) member at 3.5 the pair (median 2.5, std 1, bound +-1.2) -> 2.5.
        cube = np.array([1.0, 2.0, 30.0])[:, None, None] * np.ones((3, 1, 1))
        ints = _image(cube, dq=np.array([[[0]], [[dqflags.JUMP_DET]], [[0]]]))
        params = background.Params(sigma=1.2)
        plane, err, dq = background._member_plane(ints, ints.meta, params)
        assert plane[0, 0] == 1.5 and err[0, 0] == pytest.approx(np.sqrt(0.5) / 2) and dq[0, 0] == dqflags.JUMP_DET
        bkg = background.combine_backgrounds([ints, _image(np.full((1, 1), 3.5))], ints.meta, params)
        assert bkg.data[0, 0] == pytest.approx(2.5)

    def test_member_on_another_window(self):
        # Target window x 1..4; a member covering x 3..6 only: pixels x=1,2 get no background (NaN).
        target = _image(np.zeros((1, 4)), SUBSTRT1=1, SUBSIZE1=4)
        member = _image(np.full((1, 4), 7.0), SUBSTRT1=3, SUBSIZE1=4)
        bkg = background.combine_backgrounds([member], target.meta)
        assert np.isnan(bkg.data[0, :2]).all() and bkg.data[0, 2:].tolist() == [7.0, 7.0]


class TestRun:
    def test_subtracts_keeps_err_ors_dq(self):
        target = _image(np.full((2, 2), 10.0), err=np.full((2, 2), 1.0))
        members = [_image(np.full((2, 2), v)) for v in (2.0, 4.0)]
        members[0].dq[1, 0] = dqflags.HOT
        out, rep = background.run(target, {}, backgrounds=members)
        assert rep.status == "COMPLETE" and "2 background exposures" in rep.note
        np.testing.assert_allclose(out.data, 7.0)
        np.testing.assert_allclose(out.err, 1.0)  # jwst leaves the target ERR alone
        assert out.dq[1, 0] == dqflags.HOT

    def test_rateints_target_every_plane(self):
        target = _image(np.stack([np.full((2, 2), 10.0), np.full((2, 2), 20.0)]))
        out, _ = background.run(target, {}, backgrounds=[_image(np.full((2, 2), 3.0))])
        assert out.data[:, 0, 0].tolist() == [7.0, 17.0]

    def test_skips_and_refusals(self):
        target = _image(np.ones((1, 1)))
        assert background.run(target, {})[1].status == "SKIPPED"
        assert background.run(target, {}, background.Params(skip=True), backgrounds=[target])[1].status == "SKIPPED"
        wfss = replace(target, meta=replace(target.meta, exp_type="NIS_WFSS"))
        assert background.run(wfss, {}, backgrounds=[target])[1].status == "SKIPPED"  # no BKG template
        soss = replace(target, meta=replace(target.meta, exp_type="NIS_SOSS"))
        with pytest.raises(NotImplementedStepError, match="NIS_SOSS"):
            background.run(soss, {}, backgrounds=[target])
