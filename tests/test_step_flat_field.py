"""flat_field on guider products (3-D SCI, 2-D DQ) and on rate images with variances."""

import numpy as np
from astropy.io import fits

from streamcal import dqflags
from streamcal.models import ImageModel
from streamcal.steps import flat_field
from stepkit import ref


def _guider(sci, err):
    return ImageModel(meta=None, header=fits.Header(), data=np.array(sci, np.float32),
                      err=np.array(err, np.float32), dq=np.zeros(np.shape(sci)[-2:], np.uint32))


def test_guider_flat_hand_worked():
    # Flat [2 +- 0.1, NaN, 0.5 with DO_NOT_USE]: pixel 0 -> SCI 10/2 = 5,
    # ERR sqrt((1/2)^2 + (5 * 0.1/2)^2) = sqrt(0.25 + 0.0625) = 0.559; pixels 1, 2 unchanged and
    # flagged NO_FLAT_FIELD; DQ OR flat DQ.
    im = _guider([[[10.0, 10.0, 10.0]], [[20.0, 20.0, 20.0]]], np.ones((2, 1, 3)))
    flat = np.array([[2.0, np.nan, 0.5]])
    fdq = np.array([[0, 0, dqflags.DO_NOT_USE]], np.uint32)
    im, rep = flat_field.run(im, {"flat": ref("flat", SCI=flat, ERR=np.array([[0.1, 0.1, 0.1]]), DQ=fdq)})
    assert rep.status == "COMPLETE" and "2 pixels without flat" in rep.note
    np.testing.assert_allclose(im.data[:, 0], [[5, 10, 10], [10, 20, 20]])
    np.testing.assert_allclose(im.err[0, 0], [0.559017, 1.0, 1.0], rtol=1e-5)
    nff = dqflags.NO_FLAT_FIELD
    assert im.dq.tolist() == [[0, nff, nff | dqflags.DO_NOT_USE]]


def test_rate_image_variances():
    # SCI 8, VAR_POISSON 4, VAR_RNOISE 1, flat 2 (no error): SCI 4, variances /4 -> 1, 0.25,
    # ERR sqrt(1.25).
    im = ImageModel(meta=None, header=fits.Header(), data=np.full((1, 1), 8, np.float32),
                    err=np.full((1, 1), 9, np.float32), dq=np.zeros((1, 1), np.uint32),
                    var_poisson=np.full((1, 1), 4, np.float32), var_rnoise=np.ones((1, 1), np.float32))
    im, _ = flat_field.run(im, {"flat": ref("flat", SCI=np.full((1, 1), 2.0))})
    assert im.data[0, 0] == 4 and im.var_poisson[0, 0] == 1 and im.var_rnoise[0, 0] == 0.25
    np.testing.assert_allclose(im.err[0, 0], np.sqrt(1.25))


def test_skips():
    im = _guider(np.ones((1, 1, 1)), np.ones((1, 1, 1)))
    assert flat_field.run(im, {})[1].status == "SKIPPED"
    assert flat_field.run(im, {"flat": ref("flat", SCI=np.ones((1, 1)))}, flat_field.Params(skip=True))[1].status == "SKIPPED"
