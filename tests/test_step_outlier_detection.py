"""outlier_detection (imaging): median of the dithered stack, blot, two-threshold test
(jwst_spec §5.1).  Yardstick: cosmic rays injected at known pixels of a simulated 4-point
dither of a star field."""

from __future__ import annotations

import numpy as np
import pytest

from streamcal import dqflags
from streamcal.steps import get_step
from streamcal.steps.outlier_detection import (Params, abs_derivative, detect_outliers, flag_against_blot,
                                               nan_median, weight_threshold)

from mosaickit import dither, inject_crs, star_field, with_header

NOISE = 0.05


@pytest.fixture(scope="module")
def flagged():
    """4-point dither, 25 stars, 40 hits per image (>= 6 px from stars: on a star's steep wing
    a hit below 1.2 x the local derivative of the blotted median is, by jwst's design, not an
    outlier; the image3 test checks hits anywhere in the mosaic)."""
    stars = star_field(25, seed=5)
    images = dither(4, stars=stars, noise=NOISE, sky=0.3)
    masks = inject_crs(images, stars)
    out, report = detect_outliers(images, Params())
    return images, masks, out, report, stars


def _coverage(images, k):
    """How many images see each pixel of image k (itself included, 1 px inside their edges)."""
    ny, nx = images[k].data.shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    ra, dec = images[k].wcs(xx, yy)
    count = np.zeros((ny, nx), int)
    for other in images:
        x, y = other.wcs.invert(ra, dec, with_bounding_box=False)
        h, w = other.data.shape
        count += (x > 0.5) & (x < w - 1.5) & (y > 0.5) & (y < h - 1.5)
    return count


class TestFourPointDither:
    def test_every_cosmic_ray_is_flagged(self, flagged):
        """Every hit on sky seen by >= 3 exposures is flagged (OUTLIER | DO_NOT_USE, NaN
        SCI/ERR/VAR).  Where only 1 or 2 exposures overlap the median cannot reject a hit
        (with 2 it holds half the hit, which the derivative term then protects): jwst's
        limitation too; those pixels are not counted."""
        images, masks, out, report, _ = flagged
        assert report.status == "COMPLETE"
        seen = 0
        for k, (model, mask) in enumerate(zip(out, masks)):
            testable = mask & (_coverage(images, k) >= 3)
            seen += testable.sum()
            outlier = (model.dq & dqflags.OUTLIER) != 0
            assert np.all(outlier[testable])
            assert np.all(model.dq[testable] & dqflags.DO_NOT_USE)
            assert np.all(np.isnan(model.data[testable]) & np.isnan(model.err[testable])
                          & np.isnan(model.var_rnoise[testable]))
        assert seen >= 100  # of the 160 injected

    def test_few_clean_pixels_flagged(self, flagged):
        """< 0.1 % of the pixels without a hit are flagged.  Gaussian noise alone would give
        P(|z| > 5) ~ 6e-7 primary flags; the neighbours of a hit may be flagged by the 4-sigma
        second pass only if they deviate themselves (P ~ 6e-5 per neighbour)."""
        _, masks, out, _, _ = flagged
        for model, mask in zip(out, masks):
            false = ((model.dq & dqflags.OUTLIER) != 0) & ~mask
            assert false.sum() / (~mask).sum() < 1e-3

    def test_stars_are_not_flagged(self, flagged):
        """Within 3 pixels of a star centre nothing is flagged (unless a hit landed there) but,
        rarely, the very peak of an undersampled star: the median is drizzled onto jwst's grid,
        whose footprint corner on a pixel centre leaves an input up to half a pixel off, and
        blotted back, so a sigma = 1.2 px core comes back up to ~25 % low, beyond 1.2 x the
        blot's derivative at S/N ~ 800 (jwst's outlier_detection does the same on this grid;
        the old pixel-aligned grid hid it for the first input).  At most 2 % of the star images
        lose their peak pixel, and never a wing pixel."""
        images, masks, out, _, stars = flagged
        peaks_lost = 0
        for image, model, mask in zip(images, out, masks):
            ny, nx = image.data.shape
            yy, xx = np.mgrid[0:ny, 0:nx]
            for ra, dec, _flux in stars:
                x, y = image.wcs.invert(ra, dec, with_bounding_box=False)
                near = (xx - x) ** 2 + (yy - y) ** 2 <= 9
                near &= ~ndilate(mask)
                flagged_here = near & ((model.dq & dqflags.OUTLIER) != 0)
                if flagged_here.any():
                    peak = np.unravel_index(np.argmax(np.where(near, image.data, -np.inf)), near.shape)
                    assert flagged_here.sum() == 1 and flagged_here[peak]
                    peaks_lost += 1
        assert peaks_lost <= 0.02 * len(images) * len(stars)

    def test_inputs_untouched(self, flagged):
        images, masks, _, _, _ = flagged
        assert not np.any(images[0].dq & dqflags.OUTLIER) and not np.isnan(images[0].data).any()


def ndilate(mask):
    from scipy import ndimage

    return ndimage.binary_dilation(mask, structure=np.ones((3, 3), bool))


def test_two_processes_flag_the_same_pixels(flagged):
    """maximum_cores 2: the group mosaics are drizzled in two processes (streamcal.parallel);
    each group is one drizzle either way, so the median and every flag are identical."""
    images, _, out, _, _ = flagged
    split, _ = detect_outliers(images, Params(maximum_cores="2"))
    for serial, parallel in zip(out, split):
        np.testing.assert_array_equal(serial.dq, parallel.dq)


def test_skymatch_level_is_respected():
    """Images with different skies: the group mosaics are sky-subtracted with BKGLEVEL and the
    level added back to the blot, so no clean pixel is flagged for the sky difference (0.5 =
    10 sigma)."""
    images = dither(3, noise=NOISE)
    for image, sky in zip(images, (0.2, 0.7, 0.45)):
        image.data += np.float32(sky)
    leveled = [with_header(m, BKGLEVEL=sky, BKGSUB=False) for m, sky in zip(images, (0.2, 0.7, 0.45))]
    out, _ = detect_outliers(leveled, Params())
    assert sum(int(np.count_nonzero(m.dq & dqflags.OUTLIER)) for m in out) < 10


def test_without_resampling():
    """resample_data=False: 5 aligned images compared with their median; a 100-sigma hit is
    flagged; noise alone gives |x - median| > 5 sigma for < 1e-4 of the pixels."""
    images = [dither(1, noise=NOISE)[0] for _ in range(5)]
    for k, image in enumerate(images):
        image.data[:] = np.random.default_rng(k).normal(1.0, NOISE, image.data.shape).astype(np.float32)
    images[1].data[10, 20] += 5.0
    out, _ = detect_outliers(images, Params(resample_data=False))
    assert out[1].dq[10, 20] & dqflags.OUTLIER
    flags = sum(int(np.count_nonzero(m.dq & dqflags.OUTLIER)) for m in out)
    assert flags - 1 < 1e-4 * 5 * images[0].data.size


class TestKernels:
    def test_abs_derivative(self):
        img = np.array([[0.0, 0.0, 0.0], [0.0, 4.0, 1.0], [0.0, 0.0, np.nan]])
        d = abs_derivative(img)
        # centre: max(|4-0| x3, |4-1|) = 4; right-middle: max(|1-4|, |1-0|, NaN ignored) = 3
        assert d[1, 1] == 4.0 and d[1, 2] == 3.0 and np.isnan(d[2, 2]) and d[0, 0] == 0.0

    def test_two_thresholds(self):
        """A 10-sigma hit (primary) with a 4.5-sigma neighbour (secondary, next to a primary)
        and a 4.5-sigma pixel far away (secondary only: not flagged); flat blot, deriv 0."""
        sci = np.zeros((7, 9))
        sci[3, 3], sci[3, 4], sci[5, 8] = 10.0, 4.5, 4.5
        mask = flag_against_blot(sci, np.ones_like(sci), np.zeros_like(sci), (5.0, 4.0), (1.2, 0.7))
        assert np.argwhere(mask).tolist() == [[3, 3], [3, 4]]

    def test_derivative_term_protects_sharp_structure(self):
        """Where the blot has a steep edge, a difference below scale1 * deriv is not an outlier."""
        blot = np.zeros((5, 5))
        blot[:, 2:] = 100.0              # deriv 100 along the edge
        sci = blot.copy()
        sci[2, 2] += 50.0                # 50 < 1.2 * 100: within what resampling can do
        assert not flag_against_blot(sci, np.ones_like(sci), blot, (5.0, 4.0), (1.2, 0.7)).any()

    @pytest.mark.parametrize("planes", [1, 2, 3, 4, 7])
    def test_nan_median_equals_numpy(self, planes):
        """Yardstick: np.nanmedian, on stacks with 30 % NaN (all-NaN columns included)."""
        import warnings

        rng = np.random.default_rng(planes)
        stack = rng.normal(size=(planes, 40, 50)).astype(np.float32)
        stack[rng.random(stack.shape) < 0.3] = np.nan
        stack[:, 0, 0] = np.nan
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = np.nanmedian(stack, axis=0)
        np.testing.assert_array_equal(nan_median(stack), expected)

    def test_weight_threshold(self):
        weight = np.r_[np.full(1000, 2.0), np.zeros(50), [200.0]]  # zeros ignored, 200 clipped
        assert weight_threshold(weight, 0.7) == pytest.approx(1.4)


def test_single_image_is_skipped_and_params_validated():
    step = get_step("outlier_detection")
    models, report = step.run(dither(1), {}, Params())
    assert report.status == "SKIPPED" and "at least 2" in report.note
    with pytest.raises(ValueError, match="snr"):
        Params(snr="5")


def test_kernels_agree_with_stcal():
    """The flagging kernels against stcal's (jwst's engine; an oracle here) on random images
    with NaNs: identical masks, derivative and weight threshold."""
    from stcal.outlier_detection.utils import _abs_deriv, compute_weight_threshold, flag_resampled_crs

    rng = np.random.default_rng(4)
    sci = rng.normal(0.0, 1.0, (60, 70))
    blotted = rng.normal(0.0, 1.0, (60, 70)) * 0.5
    sci[rng.random((60, 70)) < 0.02] += 30.0
    blotted[5, 5] = np.nan
    err = np.full((60, 70), 1.0)
    err[7, 7] = np.nan
    ours = flag_against_blot(sci, err, blotted, (5.0, 4.0), (1.2, 0.7), 0.1)
    theirs = flag_resampled_crs(sci, err, blotted, 5.0, 4.0, 1.2, 0.7, 0.1)
    np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(abs_derivative(blotted), _abs_deriv(blotted))
    weight = rng.uniform(0.5, 1.5, 5000)
    weight[:100] = 0.0
    assert weight_threshold(weight, 0.7) == pytest.approx(compute_weight_threshold(weight, 0.7), rel=1e-12)


def test_doctests():
    import doctest

    import streamcal.steps.outlier_detection as module

    assert doctest.testmod(module).failed == 0
