"""group_scale: FRMDIVSR/NFRAMES rescaling and its skip rules."""

import numpy as np
import pytest

from streamcal.steps import group_scale
from stepkit import ramp


def test_scales_by_frmdivsr_over_nframes():
    # NFRAMES=5 averaged with divisor 8: stored values are 5/8 too low, so x 8/5 = 1.6.
    m = ramp(np.full((2, 3, 2, 2), 100.0), NFRAMES=5, FRMDIVSR=8)
    m, rep = group_scale.run(m, {}, group_scale.Params())
    assert rep.status == "COMPLETE"
    np.testing.assert_allclose(m.data, 160.0, rtol=1e-6)


def test_skipped_when_nframes_equals_frmdivsr():
    m = ramp(np.full((1, 2, 1, 1), 7.0), NFRAMES=4, FRMDIVSR=4)
    m, rep = group_scale.run(m, {}, group_scale.Params())
    assert rep.status == "SKIPPED" and "FRMDIVSR" in rep.note
    assert m.data.ravel().tolist() == [7.0, 7.0]


def test_miri_fastgrpavg_sets_nframes_and_skips():
    # Raw MIRI FASTGRPAVG says NFRAMES=1, FRMDIVSR=4: jwst sets NFRAMES = MIRNFRMS*FRMDIVSR = 4.
    m = ramp(np.ones((1, 2, 1, 1)), miri=True, READPATT="FASTGRPAVG", NFRAMES=1, FRMDIVSR=4, MIRNFRMS=1)
    m, rep = group_scale.run(m, {}, group_scale.Params())
    assert rep.status == "SKIPPED" and rep.keywords == {"NFRAMES": 4}
    assert m.meta.nframes == 4 and m.header["NFRAMES"] == 4
    assert m.data.ravel().tolist() == [1.0, 1.0]


def test_skip_parameter():
    m = ramp(np.ones((1, 1, 1, 1)), NFRAMES=5, FRMDIVSR=8)
    _, rep = group_scale.run(m, {}, group_scale.Params(skip=True))
    assert rep.status == "SKIPPED" and m.data[0, 0, 0, 0] == 1.0


@pytest.mark.parametrize("factor", [0.5, 1.6])
def test_scale_groups_inplace(factor):
    d = np.arange(8, dtype=np.float32).reshape(2, 2, 1, 2)
    expected = d * np.float32(factor)
    group_scale.scale_groups_inplace(d, factor)
    np.testing.assert_array_equal(d, expected)
