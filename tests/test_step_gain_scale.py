"""gain_scale: GAINFACT applied to rate and rateints."""

import numpy as np
from astropy.io import fits

from streamcal.models import ImageModel, RampFitOutput
from streamcal.steps import gain_scale
from stepkit import ramp, ref


def _image(meta, shape):
    return ImageModel(meta=meta, header=fits.Header(), data=np.full(shape, 2.0, np.float32),
                      err=np.full(shape, 0.5, np.float32), dq=np.zeros(shape, np.uint32),
                      var_poisson=np.full(shape, 0.2, np.float32), var_rnoise=np.full(shape, 0.05, np.float32))


def _output(**keys):
    meta = ramp(np.zeros((2, 2, 1, 2)), **keys).meta
    return RampFitOutput(rate=_image(meta, (1, 2)), rateints=_image(meta, (2, 1, 2)))


def test_scales_both_products_from_reference_header():
    out = _output()
    out, rep = gain_scale.run(out, {"gain": ref("gain", {"GAINFACT": 1.5}, SCI=np.ones((1, 2)))})
    assert rep.status == "COMPLETE" and rep.keywords == {"GAINFACT": 1.5}
    for im in (out.rate, out.rateints):
        # SCI 2 -> 3, ERR 0.5 -> 0.75, VAR_POISSON 0.2 -> 0.45, VAR_RNOISE 0.05 -> 0.1125
        np.testing.assert_allclose(im.data, 3.0)
        np.testing.assert_allclose(im.err, 0.75)
        np.testing.assert_allclose(im.var_poisson, 0.45, rtol=1e-6)
        np.testing.assert_allclose(im.var_rnoise, 0.1125, rtol=1e-6)


def test_exposure_gainfact_and_skip():
    out, rep = gain_scale.run(_output(GAINFACT=2.0), {})
    assert rep.keywords == {"GAINFACT": 2.0} and out.rate.data[0, 0] == 4.0
    out, rep = gain_scale.run(_output(), {"gain": ref("gain", SCI=np.ones((1, 2)))})
    assert rep.status == "SKIPPED" and out.rate.data[0, 0] == 2.0
    out = _output(GAINFACT=2.0)
    out.rateints = None
    out, _ = gain_scale.run(out, {})
    assert out.rate.data[0, 0] == 4.0
