"""Shared step helpers (streamcal.steps._common), with scipy/numpy yardsticks, and the doctest
examples of every detector-level step module (run here so CI executes them)."""

import doctest
import importlib

import numpy as np
import pytest
from scipy import ndimage, stats

from streamcal.errors import ReferenceFileError
from streamcal.steps import _common
from stepkit import ref

STEP_MODULES = ["_common", "group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix",
                "refpix.nir", "refpix.miri", "linearity", "dark_current", "persistence",
                "charge_migration", "rscd", "firstframe", "lastframe", "reset", "gain_scale",
                "guider_cds", "flat_field"]


@pytest.mark.parametrize("name", STEP_MODULES)
def test_doctests(name):
    module = importlib.import_module(f"streamcal.steps.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_or_dq_dtypes_and_where():
    g = np.zeros(3, np.uint8)
    _common.or_dq(g, np.array([1, 2, 4], np.uint32))
    assert g.tolist() == [1, 2, 4] and g.dtype == np.uint8
    p = np.zeros(2, np.uint32)
    _common.or_dq(p, 1 << 31, where=np.array([False, True]))
    assert p.tolist() == [0, 1 << 31]


def test_collapse_and_ref_helpers():
    assert _common.collapse_dq(None, (1, 2)).tolist() == [[0, 0]]
    r = ref("x", SCI=np.ones((2, 3)), DQ=np.array([[[1, 0, 0], [0, 0, 0]], [[4, 0, 0], [0, 0, 2]]], np.uint32))
    assert _common.ref_dq(r, (2, 3)).tolist() == [[5, 0, 0], [0, 0, 2]]
    assert _common.ref_array(r, "SCI", (2, 3), ndim=(2,)).shape == (2, 3)
    with pytest.raises(ReferenceFileError, match="no COEFFS"):
        _common.ref_array(r, "COEFFS")
    with pytest.raises(ReferenceFileError, match="does not match"):
        _common.ref_array(r, "SCI", (3, 3))
    with pytest.raises(ReferenceFileError, match="1-D"):
        _common.ref_array(r, "SCI", ndim=(1,))
    assert _common.nan_to_zero(np.array([np.nan, 2.0])).tolist() == [0.0, 2.0]
    assert _common.integration_start({"INTSTART": 5}) == 5 and _common.integration_start({}) == 1


@pytest.mark.parametrize("n", [1, 2, 3])
def test_box_dilate_matches_scipy(n):
    """Yardstick: scipy.ndimage.binary_dilation with a (2n+1)^2 square; exact."""
    rng = np.random.default_rng(n)
    m = rng.random((17, 23)) < 0.03
    m[0, 0] = m[-1, -1] = True
    expected = ndimage.binary_dilation(m, structure=np.ones((2 * n + 1,) * 2, bool))
    assert (_common.box_dilate(m, n) == expected).all()
    assert (_common.dilate_sparse(m, n) == expected).all()
    assert not _common.dilate_sparse(np.zeros((4, 4), bool), n).any()


def test_clipped_mean_matches_scipy_sigmaclip():
    """Yardstick: scipy.stats.sigmaclip(3, 3) then mean, sample by sample.  Tolerance 1e-9
    relative (float64 both ways; the rejections are identical)."""
    rng = np.random.default_rng(0)
    values = rng.normal(5, 2, (6, 300))
    values[:, :5] += rng.uniform(20, 200, (6, 5))   # outliers
    valid = rng.random(values.shape) > 0.1
    got = _common.clipped_mean(values, valid)
    for k in range(6):
        expected = stats.sigmaclip(values[k][valid[k]], 3.0, 3.0)[0].mean()
        assert got[k] == pytest.approx(expected, rel=1e-9)
    assert np.isnan(_common.clipped_mean(np.ones((1, 3)), np.zeros((1, 3), bool))[0])
    assert _common.clipped_mean(np.full((1, 4), 7.0), np.ones((1, 4), bool))[0] == 7.0


def test_nanmedian_last_matches_numpy():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, 44))
    a[rng.random(a.shape) < 0.2] = np.nan
    a[3] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(a, axis=-1)
    np.testing.assert_array_equal(_common.nanmedian_last(a), expected)


def test_detector_full_shape():
    assert _common.detector_full_shape(1, (1024, 1032)) == (1024, 1032)
    assert _common.detector_full_shape(-2, (1024, 1032)) == (1032, 1024)


@pytest.mark.parametrize("n", [1, 2])
def test_box_min_matches_scipy(n):
    """Yardstick: scipy.ndimage.minimum_filter with a (2n+1)^2 box, edges ignored; exact."""
    a = np.random.default_rng(n).integers(0, 10, (13, 17)).astype(np.int16)
    expected = ndimage.minimum_filter(a, size=2 * n + 1, mode="constant", cval=np.iinfo(np.int16).max)
    assert (_common.box_min(a, n) == expected).all()
