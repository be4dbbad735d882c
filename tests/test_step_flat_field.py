"""flat_field on guider products (3-D SCI, 2-D DQ) and on rate images with variances; NIRSpec
imaging (the FLAT) against NIRSpec spectroscopy (FFLAT/SFLAT/DFLAT: not implemented)."""

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
    # flagged NO_FLAT_FIELD | DO_NOT_USE (jwst 3.0); DQ OR flat DQ.
    im = _guider([[[10.0, 10.0, 10.0]], [[20.0, 20.0, 20.0]]], np.ones((2, 1, 3)))
    flat = np.array([[2.0, np.nan, 0.5]])
    fdq = np.array([[0, 0, dqflags.DO_NOT_USE]], np.uint32)
    im, rep = flat_field.run(im, {"flat": ref("flat", SCI=flat, ERR=np.array([[0.1, 0.1, 0.1]]), DQ=fdq)})
    assert rep.status == "COMPLETE" and "2 pixels without flat" in rep.note
    np.testing.assert_allclose(im.data[:, 0], [[5, 10, 10], [10, 20, 20]])
    np.testing.assert_allclose(im.err[0, 0], [0.559017, 1.0, 1.0], rtol=1e-5)
    nff = dqflags.NO_FLAT_FIELD
    assert im.dq.tolist() == [[0, nff | dqflags.DO_NOT_USE, nff | dqflags.DO_NOT_USE]]  # jwst 3.0 rule


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


# ----------------------------------------------------------------------------- imaging (image2)

def _rate(shape=(1, 2), sci=8.0, **keys):
    from streamcal.models import ExposureMeta
    from stepkit import header

    hdr = header(1, 2, shape[-2], shape[-1], **keys)
    full = lambda v: np.full(shape, v, np.float32)  # noqa: E731
    return ImageModel(meta=ExposureMeta.from_header(hdr, (1, 2) + shape[-2:]), header=hdr, data=full(sci),
                      err=full(9.0), dq=np.zeros(shape, np.uint32), var_poisson=full(4.0), var_rnoise=full(1.0))


def test_imaging_var_flat_jwst_formula():
    # jwst apply_flat_field: divide first, then VAR_FLAT = SCI_out^2 ERR_F^2 / F^2.
    # SCI 8, flat 2 +- 0.2: SCI_out 4, VAR_FLAT = 16 * 0.04 / 4 = 0.16 (= SCI_in^2 ERR_F^2 / F^4
    # = 64 * 0.04 / 16), VAR_POISSON 4/4 = 1, VAR_RNOISE 1/4 = 0.25, ERR sqrt(1.41).
    im = _rate()
    im, rep = flat_field.run(im, {"flat": ref("flat", SCI=np.full((1, 2), 2.0), ERR=np.full((1, 2), 0.2))})
    assert rep.status == "COMPLETE" and "jwst 3.0 keeps" not in rep.note
    np.testing.assert_allclose(im.data, 4.0)
    np.testing.assert_allclose(im.var_flat, 0.16, rtol=1e-6)
    np.testing.assert_allclose([im.var_poisson[0, 0], im.var_rnoise[0, 0]], [1.0, 0.25])
    np.testing.assert_allclose(im.err, np.sqrt(1.41), rtol=1e-6)
    assert im.var_flat.dtype == np.float32


def test_imaging_bad_flat_is_do_not_use_and_nan():
    # jwst: a NaN (or 0) flat pixel gets NO_FLAT_FIELD | DO_NOT_USE, flat set to 1; then NaN and
    # DO_NOT_USE are matched, so the cal pixel is NaN in SCI, ERR and every VAR.
    im = _rate()
    im, _ = flat_field.run(im, {"flat": ref("flat", SCI=np.array([[2.0, np.nan]]))})
    assert im.dq[0, 1] == dqflags.NO_FLAT_FIELD | dqflags.DO_NOT_USE and im.dq[0, 0] == 0
    for a in (im.data, im.err, im.var_poisson, im.var_rnoise, im.var_flat):
        assert np.isnan(a[0, 1]) and np.isfinite(a[0, 0])


def test_imaging_rateints_per_plane():
    im = _rate(shape=(3, 1, 2), sci=6.0)
    im.data[1] = 12.0
    im, _ = flat_field.run(im, {"flat": ref("flat", SCI=np.array([[2.0, 3.0]]))})
    assert im.data[:, 0, 0].tolist() == [3.0, 6.0, 3.0] and im.data[1, 0, 1] == 4.0
    assert im.var_flat.shape == (3, 1, 2) and not im.var_flat.any()  # flat without ERR: VAR_FLAT 0


def test_nirspec_imaging_takes_the_flat():
    # jwst flat-fields NIRSpec imaging like any imager (do_flat_field): SCI 8 / flat 2 = 4.
    for exp_type in ("NRS_IMAGE", "NRS_TACQ", "NRS_MSATA"):
        im = _rate(INSTRUME="NIRSPEC", DETECTOR="NRS1", EXP_TYPE=exp_type)
        flat_field.check_supported(im.meta)
        im, rep = flat_field.run(im, {"flat": ref("flat", SCI=np.full((1, 2), 2.0))})
        assert rep.status == "COMPLETE" and im.data.tolist() == [[4.0, 4.0]]
    flat_field.check_supported(_rate().meta)  # NIRCam: fine


def test_nirspec_spectroscopy_needs_the_three_part_flats():
    # NIRSpec spectroscopy uses FFLAT/SFLAT/DFLAT (calwebb_spec2): a clear error, the data untouched.
    import pytest

    from streamcal.errors import NotImplementedStepError

    for exp_type in ("NRS_FIXEDSLIT", "NRS_IFU", "NRS_MSASPEC", "NRS_BRIGHTOBJ"):
        im = _rate(INSTRUME="NIRSPEC", DETECTOR="NRS1", EXP_TYPE=exp_type)
        with pytest.raises(NotImplementedStepError, match="FFLAT"):
            flat_field.check_supported(im.meta)
        with pytest.raises(NotImplementedStepError, match=exp_type):
            flat_field.run(im, {"flat": ref("flat", SCI=np.full((1, 2), 2.0))})
        assert im.data.tolist() == [[8.0, 8.0]]


def _nirspec_sim(refs, exp_type):
    """A tiny NIRSpec simulation (SUB32) and its exposure metadata."""
    from streamcal import sim
    from streamcal.models import ExposureMeta

    exposure = sim.simulate_exposure(sim.ExposureConfig(detector="NRS1", exp_type=exp_type, subarray="SUB32",
                                                        ngroups=2, seed=3), refs)
    return exposure, ExposureMeta.from_header(exposure.hdul[0].header, exposure.hdul["SCI"].data.shape)


def test_synthetic_nirspec_flat_for_imaging_only(refs):
    """The synthetic set has a NIRSpec FLAT for the imaging EXP_TYPEs only (CRDS: selected by
    DETECTOR, FILTER, GRATING=MIRROR, EXP_TYPE), and the simulator applies what the set
    selects: an NRS_IMAGE truth rate over that flat is the flat sky exactly (to float32
    rounding, 1e-5) on the source-free pixels, most of a 32 x 32 window; the spectroscopic
    types get no flat (theirs would be FFLAT/SFLAT/DFLAT), and neither does NRS_BOTA, which
    jwst 3.0 does not flat-field."""
    from streamcal.sim.exposure import detector_arrays

    exposure, meta = _nirspec_sim(refs, "NRS_IMAGE")
    flat = refs.get("flat", meta)
    assert flat is not None and flat.name.startswith("streamcal_nirspec_nrs1_flat_clear")
    assert flat.header["P_EXP_TY"].startswith("NRS_IMAGE|") and flat.header["GRATING"] == "MIRROR"
    rate = exposure.truth.rate_e.astype(np.float64)
    live = rate > 0
    over_flat = rate[live] / flat.arrays["SCI"][live]
    at_sky = np.abs(over_flat / np.median(over_flat) - 1) < 1e-5
    assert at_sky.mean() > 0.5 and (np.abs(rate[live] / np.median(rate[live]) - 1) < 1e-5).mean() < 0.05
    for exp_type in ("NRS_FIXEDSLIT", "NRS_MSASPEC", "NRS_BOTA"):
        exposure, meta = _nirspec_sim(refs, exp_type)
        assert refs.get("flat", meta) is None
        assert (detector_arrays(exposure.setup, meta, refs).flat == 1).all()


def test_synthetic_flat_is_per_filter(refs):
    """The synthetic set selects a FLAT by detector + FILTER/PUPIL: two filters, two files with
    the same pixel response but different large-scale patterns."""
    from streamcal.models import ExposureMeta
    from stepkit import header

    metas = [ExposureMeta.from_header(header(1, 2, 2048, 2048, FILTER=f, PUPIL="CLEAR"), (1, 2, 2048, 2048))
             for f in ("F200W", "F090W")]
    a, b = (refs.get("flat", m) for m in metas)
    assert "f200w-clear" in a.name and "f090w-clear" in b.name
    assert a.header["FILTER"] == "F200W"
    ratio = a.arrays["SCI"][500:600, 500:600] / b.arrays["SCI"][500:600, 500:600]
    # the 2 % pixel response is common; the ratio only carries the smooth filter pattern (< 0.5 %
    # rms over 100 x 100 pixels)
    assert np.nanstd(ratio) < 0.005 and np.nanstd(a.arrays["SCI"][500:600, 500:600]) > 0.015
    assert abs(np.nanmean(a.arrays["SCI"]) - 1) < 0.02
