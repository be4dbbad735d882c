"""photom: PHOTOM row selection per instrument, time dependence, the DN/s -> MJy/sr conversion with
its variances and header keywords, AREA attachment.  Yardsticks: hand-worked numbers, jwst's
formulas written out in the tests, and the synthetic files read through the reference set."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from streamcal import dqflags
from streamcal.errors import NotImplementedStepError, ReferenceFileError
from streamcal.models import ExposureMeta, ImageModel
from streamcal.steps import photom
from stepkit import header, ref

NIRCAM_TABLE = np.array([("F200W", "CLEAR", 2.0, 0.02), ("F150W2", "F162M", 5.0, 0.05),
                         ("F444W", "CLEAR", 0.5, 0.01)],
                        dtype=[("filter", "U12"), ("pupil", "U15"), ("photmjsr", "f4"), ("uncertainty", "f4")])


def _image(shape=(2, 2), filter_name="F200W", pupil="CLEAR", **keys) -> ImageModel:
    """A rate image: SCI 10 DN/s, ERR 1, VAR_POISSON 0.64, VAR_RNOISE 0.36, VAR_FLAT 0.01."""
    hdr = header(1, 2, shape[-2], shape[-1], FILTER=filter_name, PUPIL=pupil, **keys)
    meta = ExposureMeta.from_header(hdr, (1, 2) + shape[-2:])
    full = lambda v: np.full(shape, v, np.float32)  # noqa: E731
    return ImageModel(meta, hdr, full(10.0), full(1.0), np.zeros(shape, np.uint32),
                      var_poisson=full(0.64), var_rnoise=full(0.36), var_flat=full(0.01))


def _photom(table=NIRCAM_TABLE, **hdr):
    return ref("photom", {"PIXAR_SR": 2.0e-14, "PIXAR_A2": 0.00096, **hdr}, tables={"PHOTOM": table})


class TestFindRow:
    def test_nircam_filter_and_pupil(self):
        assert photom.find_row(NIRCAM_TABLE, "NIRCAM", "F150W2", "F162M", "FULL") == 1
        assert photom.find_row(NIRCAM_TABLE, "NIRCAM", "F150W2", "CLEAR", "FULL") is None

    def test_nircam_subarray_column_when_present(self):
        t = np.array([("F200W", "CLEAR", "FULL", 2.0), ("F200W", "CLEAR", "SUB400P", 2.2)],
                     dtype=[("FILTER", "U8"), ("PUPIL", "U8"), ("SUBARRAY", "U10"), ("PHOTMJSR", "f4")])
        assert photom.find_row(t, "NIRCAM", "F200W", "CLEAR", "SUB400P") == 1

    def test_miri_exact_subarray_then_generic(self):
        t = np.array([("F770W", "GENERIC", 0.3), ("F770W", "SUB256", 0.31)],
                     dtype=[("filter", "U8"), ("subarray", "U10"), ("photmjsr", "f4")])
        assert photom.find_row(t, "MIRI", "F770W", "N/A", "SUB256") == 1
        assert photom.find_row(t, "MIRI", "F770W", "N/A", "FULL") == 0

    def test_fgs_first_row_and_ambiguity(self):
        fgs = np.array([(1.7, 0.01)], dtype=[("photmjsr", "f4"), ("uncertainty", "f4")])
        assert photom.find_row(fgs, "FGS", "N/A", "N/A", "FULL") == 0
        twice = np.concatenate([NIRCAM_TABLE[:1], NIRCAM_TABLE[:1]])
        with pytest.raises(ReferenceFileError, match="2 rows"):
            photom.find_row(twice, "NIRCAM", "F200W", "CLEAR", "FULL")
        with pytest.raises(NotImplementedStepError):
            photom.find_row(NIRCAM_TABLE, "NIRSPEC", "CLEAR", "N/A", "FULL")


class TestTimeCorrection:
    """jwst time_dependence formulas, evaluated here independently at t - t0 = 730 d (2 yr)."""

    T0, T = 59000.0, 59730.0

    def test_linear(self):
        lin = np.array([(self.T0, 0.03)], dtype=[("t0", "f8"), ("lossperyear", "f8")])
        assert photom.time_correction({"TIMECOEFF_LINEAR": lin}, 0, self.T) == pytest.approx(1 - 0.03 * 2)

    def test_exponential(self):
        e = np.array([(self.T0, 0.1, 200.0, 0.9)], dtype=[("t0", "f8"), ("amplitude", "f8"), ("tau", "f8"),
                                                        ("const", "f8")])
        want = 0.1 * np.exp(-730 / 200.0) + 0.9
        assert photom.time_correction({"TIMECOEFF_EXPONENTIAL": e}, 0, self.T) == pytest.approx(want)

    def test_powerlaw_and_product(self):
        # year1value 0.95 means 95 % throughput one year after t0: check that anchor, then 2 yr.
        p = np.array([(self.T0, 0.95, 100.0, -0.1)],
                     dtype=[("t0", "f8"), ("year1value", "f8"), ("tsoft", "f8"), ("alpha", "f8")])
        tables = {"TIMECOEFF_POWERLAW": p}
        assert photom.time_correction(tables, 0, self.T0 + 365) == pytest.approx(0.95)
        want = (730 + 100.0) ** -0.1 / ((365 + 100.0) ** -0.1 / 0.95)
        assert photom.time_correction(tables, 0, self.T) == pytest.approx(want)
        lin = np.array([(self.T0, 0.03)], dtype=[("t0", "f8"), ("lossperyear", "f8")])
        both = photom.time_correction({**tables, "TIMECOEFF_LINEAR": lin}, 0, self.T)
        assert both == pytest.approx(want * 0.94)


class TestRun:
    def test_conversion_variances_and_keywords(self):
        # C = 2: SCI 10 -> 20 MJy/sr, ERR 1 -> 2, VAR_* x 4 (0.64 -> 2.56, 0.36 -> 1.44, 0.01 -> 0.04).
        im, rep = photom.run(_image(), {"photom": _photom()})
        assert rep.status == "COMPLETE" and im.bunit == "MJy/sr"
        np.testing.assert_allclose(im.data, 20.0)
        np.testing.assert_allclose(im.err, 2.0)
        np.testing.assert_allclose([im.var_poisson[0, 0], im.var_rnoise[0, 0], im.var_flat[0, 0]],
                                   [2.56, 1.44, 0.04], rtol=1e-6)
        h = im.sci_header
        ujy = (1 * u.MJy / u.sr).to(u.uJy / u.arcsec ** 2).value  # astropy as the yardstick: 23.5045
        assert h["PHOTMJSR"] == pytest.approx(2.0) and h["PHOTUJA2"] == pytest.approx(2.0 * ujy, rel=1e-9)
        assert (h["PIXAR_SR"], h["PIXAR_A2"]) == (2.0e-14, 0.00096)
        assert im.area is None  # no AREA reference given

    def test_area_file_wins_for_pixar_and_is_attached_cut_to_shape(self):
        area = ref("area", {"PIXAR_SR": 3.0e-14, "PIXAR_A2": 0.0013}, SCI=np.array([[1.0, 1.01], [0.99, 1.0]]))
        im, _ = photom.run(_image(), {"photom": _photom(), "area": area})
        assert im.sci_header["PIXAR_SR"] == 3.0e-14 and im.sci_header["PIXAR_A2"] == 0.0013
        assert im.area.dtype == np.float32
        np.testing.assert_allclose(im.area, [[1.0, 1.01], [0.99, 1.0]], rtol=1e-6)

    def test_time_dependence_divides_the_conversion(self):
        lin = np.array([(60000.0, 0.1)] * 3, dtype=[("t0", "f8"), ("lossperyear", "f8")])
        ref_ = _photom()
        ref_.tables["TIMECOEFF_LINEAR"] = lin
        im = _image(EXPMID=60365.0)  # one year: throughput 0.9, so C = 2 / 0.9
        im, rep = photom.run(im, {"photom": ref_})
        assert im.sci_header["PHOTMJSR"] == pytest.approx(2 / 0.9)
        np.testing.assert_allclose(im.data, 10 * 2 / 0.9, rtol=1e-6)
        im2, _ = photom.run(_image(EXPMID=60365.0), {"photom": ref_}, photom.Params(apply_time_correction=False))
        assert im2.sci_header["PHOTMJSR"] == pytest.approx(2.0)
        with pytest.raises(ReferenceFileError, match="EXPMID"):
            photom.run(_image(), {"photom": ref_})

    def test_inverse_undoes(self):
        im, _ = photom.run(_image(), {"photom": _photom()})
        im, _ = photom.run(im, {"photom": _photom()}, photom.Params(inverse=True))
        np.testing.assert_allclose(im.data, 10.0, rtol=1e-6)
        assert im.bunit == "DN/s"

    def test_nan_and_do_not_use_agree(self):
        im = _image()
        im.data[0, 0] = np.nan
        im.dq[1, 1] = dqflags.DO_NOT_USE
        im, _ = photom.run(im, {"photom": _photom()})
        assert np.isnan(im.err[0, 0]) and im.dq[0, 0] & dqflags.DO_NOT_USE
        assert np.isnan(im.data[1, 1]) and np.isnan(im.var_rnoise[1, 1])
        assert np.isfinite(im.data[0, 1])

    def test_no_row_skips_and_keeps_dn(self):
        im, rep = photom.run(_image(filter_name="F070W"), {"photom": _photom()})
        assert rep.status == "SKIPPED" and "F070W" in rep.note and im.bunit == "DN/s"
        np.testing.assert_allclose(im.data, 10.0)

    def test_spectroscopic_not_implemented_and_skip(self):
        with pytest.raises(NotImplementedStepError, match="NRC_WFSS"):
            photom.run(_image(EXP_TYPE="NRC_WFSS"), {"photom": _photom()})
        assert photom.run(_image(), {}, photom.Params(skip=True))[1].status == "SKIPPED"

    def test_rateints_cube(self):
        im, _ = photom.run(_image(shape=(3, 2, 2)), {"photom": _photom()})
        assert im.data.shape == (3, 2, 2)
        np.testing.assert_allclose(im.data, 20.0)


def test_synthetic_photom_and_area_files(refs):
    """The synthetic PHOTOM/AREA through the reference set: jwst layout (PHOTOM table with
    filter/pupil/photmjsr/uncertainty, PIXAR_* in the headers) and the documented photon budget,
    recomputed here: PHOTMJSR = h gain / (1e-20 Omega A T R), Omega = (0.0311"/pix)^2 for NIRCam
    SW, gain 2.05, R = 0.23 for a W filter -> 3.4 MJy/sr per DN/s."""
    meta = ExposureMeta.from_header(header(1, 2, 400, 400, FILTER="F200W", PUPIL="CLEAR", SUBARRAY="SUB400P",
                                           SUBSTRT1=1, SUBSTRT2=1), (1, 2, 400, 400))
    p, a = refs.get("photom", meta), refs.get("area", meta)
    row = photom.find_row(p.tables["PHOTOM"], "NIRCAM", "F200W", "CLEAR", "SUB400P")
    omega = (0.0311 / 206264.806) ** 2
    want = 6.62607015e-34 * 2.05 / (1e-20 * omega * 25.4 * 0.3 * 0.23)
    assert float(p.tables["PHOTOM"]["photmjsr"][row]) == pytest.approx(want, rel=1e-5)
    assert p.header["PIXAR_SR"] == pytest.approx(omega) and p.header["PIXAR_A2"] == pytest.approx(0.0311 ** 2)
    assert a.arrays["SCI"].shape == (400, 400) and a.header["PIXAR_SR"] == p.header["PIXAR_SR"]
    with fits.open(p.path) as hdul:
        assert hdul["PHOTOM"].columns.names == ["filter", "pupil", "photmjsr", "uncertainty"]


def test_synthetic_area_is_the_distortion_jacobian(refs):
    """AREA of the synthetic set = pixel area implied by the DISTORTION reference (read back from
    its ASDF file, the transform assign_wcs uses) / nominal pixel area.  Yardstick: a 2x2
    finite-difference Jacobian (step 0.01 px) of that transform at 50 random full-frame pixels;
    tolerance 2e-6 (float32 storage 6e-8, spline interpolation of a smooth quartic << 1e-6,
    the finite-difference error of a cubic at 0.01 px ~1e-9)."""
    meta = ExposureMeta.from_header(header(1, 2, 2048, 2048, FILTER="F200W", PUPIL="CLEAR"), (1, 2, 2048, 2048))
    area = refs.get("area", meta).arrays["SCI"]
    model = refs.get("distortion", meta).tree["model"]
    rng = np.random.default_rng(3)
    x, y = rng.uniform(0, 2047, 50), rng.uniform(0, 2047, 50)
    x, y = np.round(x), np.round(y)
    h = 0.01
    (a1, b1), (a0, b0) = model(x + h, y), model(x - h, y)
    (c1, d1), (c0, d0) = model(x, y + h), model(x, y - h)
    jac = np.abs((a1 - a0) * (d1 - d0) - (b1 - b0) * (c1 - c0)) / (2 * h) ** 2 / 0.0311 ** 2
    np.testing.assert_allclose(area[y.astype(int), x.astype(int)], jac, rtol=2e-6)
    assert 0.99 < area.min() and area.max() < 1.02 and area.std() > 1e-4  # a real, small variation


@pytest.mark.parametrize("module", ["streamcal.steps.photom", "streamcal.steps.background",
                                    "streamcal.refs.synth_stage2"])
def test_docstring_examples(module):
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0
