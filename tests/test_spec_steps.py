"""Spectroscopic calibration steps (srctype, photom for spectra, pathloss, flat_field and
background for spectra) against jwst 3.0 run offline on the same small in-memory inputs, with
minimal reference files written in jwst's formats by stdatamodels.

Tolerance: 1e-5 relative on every array.  Both sides compute in float64 and store float32; the
only differences allowed are float32 rounding of intermediate products (~1e-7), so 1e-5 leaves
two orders of magnitude while catching any algorithmic difference (a wrong interpolation node,
a missing dispersion factor, a wrong slit position) which shows at the 1e-3 level or above.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits

from conftest import extdata
from jwstkit import offline_crds
from streamcal import dqflags
from streamcal.errors import NotImplementedStepError
from streamcal.models import ExposureMeta, ImageModel
from streamcal.refs.io import read_reffile
from streamcal.steps import background_wfss, pathloss, photom, photom_spec, srctype
from stepkit import header

datamodels = pytest.importorskip("stdatamodels.jwst.datamodels")
RTOL = 1e-5


def _sc_image(data, exp_type, *, miri, wavelength=None, **keys) -> ImageModel:
    """A streamcal rate/rateints image with ERR and variances derived from ``data``."""
    data = np.array(data, np.float32)
    ny, nx = data.shape[-2:]
    nints = data.shape[0] if data.ndim == 3 else 1
    hdr = header(nints, 2, ny, nx, miri=miri, EXP_TYPE=exp_type, **keys)
    meta = ExposureMeta.from_header(hdr, (nints, 2, ny, nx))
    vp = np.abs(data) * 0.01 + 0.5
    vr = np.full(data.shape, 0.25, np.float32)
    return ImageModel(meta, hdr, data.copy(), np.sqrt(vp + vr).astype(np.float32), np.zeros(data.shape, np.uint32),
                      var_poisson=vp.astype(np.float32), var_rnoise=vr, var_flat=np.full(data.shape, 0.01, np.float32))


def _jwst_like(model, image: ImageModel):
    """Copy SCI/ERR/DQ/VAR_* of ``image`` into a jwst data model."""
    model.data = image.data.copy()
    model.err = image.err.copy()
    model.dq = image.dq.copy()
    model.var_poisson = image.var_poisson.copy()
    model.var_rnoise = image.var_rnoise.copy()
    model.var_flat = image.var_flat.copy()
    return model


def _table_wcs(wl: np.ndarray):
    """A stand-in WCS: (x, y) -> (x, y, wavelength read off ``wl``)."""
    return lambda x, y: (x, y, wl[np.asarray(y, int), np.asarray(x, int)])


def _assert_arrays(sc: ImageModel, jw, names=("data", "err", "var_poisson", "var_rnoise", "var_flat"), atol=0.0):
    for name in names:
        np.testing.assert_allclose(getattr(sc, name), getattr(jw, name), rtol=RTOL, atol=atol, equal_nan=True,
                                   err_msg=name)
    np.testing.assert_array_equal(sc.dq, jw.dq)


# ------------------------------------------------------------------------------ srctype

SRCTYPE_CASES = [  # (EXP_TYPE, BKGDTARG, TSOVISIT, NINTS, SRCTYAPT, SRCTYPE, PATTTYPE, user)
    ("MIR_LRS-FIXEDSLIT", False, False, 1, "EXTENDED", None, "ALONG-SLIT-NOD", None),
    ("MIR_LRS-FIXEDSLIT", False, False, 1, None, None, "ALONG-SLIT-NOD", None),
    ("MIR_LRS-FIXEDSLIT", False, False, 1, "UNKNOWN", None, "NONE", None),
    ("MIR_LRS-FIXEDSLIT", True, False, 1, "POINT", None, "ALONG-SLIT-NOD", None),
    ("MIR_LRS-FIXEDSLIT", True, False, 1, "POINT", None, None, "POINT"),
    ("MIR_LRS-FIXEDSLIT", False, False, 1, None, "EXTENDED", None, None),
    ("MIR_LRS-SLITLESS", False, True, 40, "EXTENDED", None, None, None),
    ("MIR_LRS-SLITLESS", False, True, 1, "EXTENDED", None, None, None),
    ("MIR_MRS", False, False, 1, None, None, "POINT-SOURCE", None),
    ("MIR_MRS", False, False, 1, None, None, "EXTENDED-SOURCE", None),
    ("NRS_IFU", False, False, 1, "UNKNOWN", None, None, "POINT"),
    ("NRS_IFU", False, False, 1, "UNKNOWN", None, None, None),
    ("NRC_TSGRISM", False, True, 1, "EXTENDED", None, None, None),
    ("NRC_TSGRISM", False, False, 10, "EXTENDED", None, None, None),
    ("NIS_SOSS", False, False, 1, None, None, None, None),
    ("NRC_TSIMAGE", False, False, 5, None, None, None, None),
    ("NRC_IMAGE", False, False, 1, None, None, None, None),
]


@pytest.mark.parametrize("case", SRCTYPE_CASES)
def test_srctype_matches_jwst(case):
    from jwst.srctype.srctype import set_source_type

    exp_type, bkg, tso, nints, apt, current, patt, user = case
    model = datamodels.ImageModel((2, 2))
    warnings.simplefilter("ignore")  # stdatamodels validates the dither enums; values are real ones
    model.meta.exposure.type = exp_type
    model.meta.observation.bkgdtarg = bkg
    model.meta.visit.tsovisit = tso
    model.meta.exposure.nints = nints
    if apt is not None:
        model.meta.target.source_type_apt = apt
    if current is not None:
        model.meta.target.source_type = current
    if patt is not None:
        model.meta.dither.primary_type = patt
        model.meta.dither.optimized_for = patt
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = set_source_type(model, user).meta.target.source_type

    keys = {"EXP_TYPE": exp_type, "BKGDTARG": bkg, "TSOVISIT": tso, "NINTS": nints}
    for key, value in (("SRCTYAPT", apt), ("SRCTYPE", current), ("PATTTYPE", patt), ("DITHOPFR", patt)):
        if value is not None:
            keys[key] = value
    image = ImageModel(None, fits.Header(keys), np.zeros((2, 2), np.float32), np.zeros((2, 2), np.float32),
                       np.zeros((2, 2), np.uint32))
    image, report = srctype.run(image, {}, srctype.Params(source_type=user))
    assert image.header["SRCTYPE"] == expected, report.note
    assert report.keywords["SRCTYPE"] == expected


def test_srctype_refuses_what_jwst_cannot_do():
    with pytest.raises(ValueError, match="NIS_SOSS"):
        srctype.decide_source_type(srctype.SourceTypeInputs("NIS_SOSS"), "POINT")
    with pytest.raises(ValueError, match="per source"):
        srctype.decide_source_type(srctype.SourceTypeInputs("NRC_WFSS"))
    assert srctype.wfss_source_types(np.array([0, 1])).tolist() == ["POINT", "EXTENDED"]


# ------------------------------------------------------------------------------ photom

def _lrs_wavelength(ny=40, nx=6) -> np.ndarray:
    """LRS-like map: dispersion along y (4.5 -> 12.5 um, decreasing with row), NaN at the ends."""
    wl = np.repeat(np.linspace(12.5, 4.5, ny)[:, None], nx, axis=1)
    wl[:3] = np.nan
    wl[-2:] = np.nan
    return wl


def _lrs_photom_file(path):
    waves = np.linspace(5.0, 12.0, 50).astype(np.float32)
    table = np.zeros(2, dtype=[("filter", "S12"), ("subarray", "S17"), ("photmjsr", "f4"), ("uncertainty", "f4"),
                               ("nelem", "i2"), ("wavelength", "f4", (60,)), ("relresponse", "f4", (60,)),
                               ("reluncertainty", "f4", (60,))])
    for i, (sub, scale) in enumerate((("FULL", 1.0), ("SLITLESSPRISM", 2.0))):
        table[i]["filter"], table[i]["subarray"] = "P750L", sub
        table[i]["photmjsr"], table[i]["nelem"] = 0.8 * scale, 50
        table[i]["wavelength"][:50] = waves[::-1]  # jwst sorts; give it unsorted on purpose
        table[i]["relresponse"][:50] = (1.0 + 0.1 * (waves - 8.0) ** 2)[::-1]
    model = datamodels.MirLrsPhotomModel(phot_table=table)
    model.meta.instrument.name, model.meta.reftype = "MIRI", "PHOTOM"
    model.meta.photometry.pixelarea_steradians, model.meta.photometry.pixelarea_arcsecsq = 2.8e-13, 0.0121
    _ref_meta(model)
    model.save(path)
    return path


def _ref_meta(model):
    model.meta.author, model.meta.pedigree, model.meta.useafter = "test", "DUMMY", "2020-01-01T00:00:00"
    model.meta.description, model.meta.telescope = "test", "JWST"


def _jwst_photom(model, photom_path, tmp_path):
    from jwst.photom import PhotomStep

    with offline_crds(tmp_path / "crds"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return PhotomStep.call(model, override_photom=str(photom_path), override_area="N/A")


def test_photom_lrs_matches_jwst(tmp_path):
    path = _lrs_photom_file(tmp_path / "lrs_photom.fits")
    wl = _lrs_wavelength()
    rng = np.random.default_rng(1)
    data = rng.normal(20.0, 3.0, (3,) + wl.shape)
    image = _sc_image(data, "MIR_LRS-SLITLESS", miri=True, FILTER="P750L", SUBARRAY="SLITLESSPRISM")
    jw = _jwst_like(datamodels.SlitModel(data.shape), image)
    jw.wavelength = wl.copy()
    jw.meta.instrument.name, jw.meta.instrument.detector, jw.meta.instrument.filter = "MIRI", "MIRIMAGE", "P750L"
    jw.meta.exposure.type, jw.meta.subarray.name = "MIR_LRS-SLITLESS", "SLITLESSPRISM"
    jw.meta.exposure.mid_time = 60000.0
    jw = _jwst_photom(jw, path, tmp_path)

    image.wcs = _table_wcs(wl)
    image, report = photom.run(image, {"photom": read_reffile(path)}, photom.Params())
    assert jw.meta.cal_step.photom == "COMPLETE" and report.status == "COMPLETE"
    _assert_arrays(image, jw)
    assert image.bunit == jw.meta.bunit_data == "MJy/sr"
    assert image.sci_header["PHOTMJSR"] == pytest.approx(jw.meta.photometry.conversion_megajanskys, rel=RTOL)
    assert image.sci_header["PIXAR_SR"] == pytest.approx(jw.meta.photometry.pixelarea_steradians)
    assert np.isnan(image.data[:, :3]).all() and np.isfinite(image.data[:, 5:30]).all()


def _wfss_cutout(ny=9, nx=300, wl0=3.9, wl1=5.0):
    """A GRISMR cutout: dispersion along x, slightly non-linear and tilted; NaN columns at the ends."""
    x = np.linspace(0, 1, nx)
    wl = wl0 + (wl1 - wl0) * (x + 0.05 * x ** 2)[None, :] + 0.001 * np.arange(ny)[:, None]
    wl[:, :4] = np.nan
    # float32 as jwst stores a slit's WAVELENGTH array: the 1e-4 nm dispersion steps would
    # otherwise differ by float32 rounding (6e-5 relative) between the two sides
    return wl.astype(np.float32)


def test_photom_nircam_wfss_real_reffile_matches_jwst(tmp_path):
    path = extdata("reffiles", "jwst_nircam_photom_0064.fits")
    wl = _wfss_cutout()
    rng = np.random.default_rng(2)
    data = rng.normal(2.0, 0.5, wl.shape)
    image = _sc_image(data, "NRC_WFSS", miri=False, FILTER="F444W", PUPIL="GRISMR", SPORDER=1)
    slit = _jwst_like(datamodels.SlitModel(data.shape), image)
    slit.wavelength = wl.copy()
    slit.meta.wcsinfo.spectral_order = 1
    slit.name = "1"
    jw = datamodels.MultiSlitModel()
    jw.slits.append(slit)
    jw.meta.instrument.name, jw.meta.instrument.detector = "NIRCAM", "NRCALONG"
    jw.meta.instrument.filter, jw.meta.instrument.pupil = "F444W", "GRISMR"
    jw.meta.exposure.type, jw.meta.subarray.name = "NRC_WFSS", "FULL"
    jw.meta.exposure.mid_time = 60000.0
    jw = _jwst_photom(jw, path, tmp_path)

    image, _ = photom_spec.run(image, {"photom": read_reffile(path)}, photom.Params(), wavelength=wl)
    _assert_arrays(image, jw.slits[0])
    assert np.isnan(image.data[:, :4]).all() and (image.dq[:, :4] & dqflags.DO_NOT_USE).all()
    # the dispersion factor matters: about 1/(3.7e-3 um/px) ~ 270x the bare PHOTMJSR x relresponse
    curve = photom_spec.response_curve(read_reffile(path).tables["PHOTOM"],
                                       photom_spec.row_keys("NRC_WFSS", "F444W", "GRISMR", "FULL", 1))
    bare = photom_spec.conversion_map(wl, curve, curve.photmjsr)
    assert np.nanmedian(image.data / (data * bare)) > 100


def test_photom_grism_needs_the_order():
    with pytest.raises(NotImplementedStepError, match="order"):
        photom_spec.row_keys("NRC_WFSS", "F444W", "GRISMR", "FULL", None)


# ------------------------------------------------------------------------------ pathloss

def _simple_lrs_wcs(x0=3.0, y0=20.0):
    """detector -> (ra, dec, lambda): linear, with the reference-point shifts jwst reads as
    offset_1/offset_2, and an analytic inverse (x maps to ra, y to dec and lambda)."""
    from astropy import units as u
    from astropy.modeling import models as am
    from astropy import coordinates as coord
    from gwcs import WCS, coordinate_frames as cf

    scale = 0.11 / 3600.0
    ref = am.Shift(-x0) & am.Shift(-y0) | am.Shift(x0) & am.Shift(y0)
    sky = am.Linear1D(scale, 80.0) & am.Linear1D(scale, -69.0) & am.Linear1D(-0.2, 12.5)
    # a leading leaf without parameters, as in jwst's LRS WCS: the shifts are then offset_1/2
    forward = am.Mapping((0, 1)) | ref | am.Mapping((0, 1, 1)) | sky
    forward.inverse = (am.Linear1D(scale, 80.0).inverse & am.Linear1D(scale, -69.0).inverse
                       & am.Linear1D(-0.2, 12.5).inverse) | am.Mapping((0, 1), n_inputs=3)
    det = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    world = cf.CompositeFrame([cf.CelestialFrame(reference_frame=coord.ICRS(), name="sky", axes_order=(0, 1),
                                                 unit=(u.deg, u.deg)),
                               cf.SpectralFrame(name="spectral", axes_order=(2,), unit=(u.um,))], name="world")
    return WCS([(det, forward), (world, None)])


def _lrs_pathloss_file(path):
    waves = np.linspace(13.0, 4.0, 30).astype(np.float32)  # decreasing, as the CRDS files
    xs, ys = np.arange(-24.0, 24.01, 2.0), np.arange(-2.5, 2.51, 0.25)
    cube = (1.0 + 0.02 * waves[:, None, None] * (1 + ys[None, :, None] ** 2)
            + 0.001 * xs[None, None, :]).astype(np.float32)
    table = np.zeros(len(waves), dtype=[("wavelength", "f4"), ("pathloss", "f4", cube.shape[1:]),
                                        ("pathloss_err", "f4", cube.shape[1:])])
    table["wavelength"], table["pathloss"] = waves, cube
    model = datamodels.MirLrsPathlossModel(pathloss_table=table)
    w = model.meta.wcsinfo
    w.crpix1, w.crval1, w.cdelt1, w.crpix2, w.crval2, w.cdelt2 = 1.0, -24.0, 2.0, 1.0, -2.5, 0.25
    model.meta.instrument.name, model.meta.reftype = "MIRI", "PATHLOSS"
    _ref_meta(model)
    model.save(path)
    return path


@pytest.mark.parametrize("offset", [(3.3, 0.4), (40.0, 0.0)], ids=["in-slit", "off-map"])
def test_pathloss_lrs_matches_jwst(tmp_path, offset):
    from jwst.pathloss import PathLossStep

    path = _lrs_pathloss_file(tmp_path / "lrs_pathloss.fits")
    wcs = _simple_lrs_wcs()
    scale = 0.11 / 3600.0
    ra, dec = 80.0 + scale * (3.0 + offset[0]), -69.0 + scale * (20.0 + offset[1])
    wl = _lrs_wavelength().astype(np.float32)
    data = np.random.default_rng(3).normal(10.0, 1.0, (2,) + wl.shape)
    image = _sc_image(data, "MIR_LRS-FIXEDSLIT", miri=True, FILTER="P750L", SRCTYPE="POINT",
                      TARG_RA=ra, TARG_DEC=dec)
    image.wcs = wcs
    jw = _jwst_like(datamodels.SlitModel(data.shape), image)
    jw.wavelength = wl.copy()
    jw.meta.wcs = wcs
    jw.meta.instrument.name, jw.meta.instrument.detector = "MIRI", "MIRIMAGE"
    jw.meta.exposure.type, jw.meta.target.source_type = "MIR_LRS-FIXEDSLIT", "POINT"
    jw.meta.target.ra, jw.meta.target.dec = ra, dec
    with offline_crds(tmp_path / "crds"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jw = PathLossStep.call(jw, override_pathloss=str(path))

    image, report = pathloss.run(image, {"pathloss": read_reffile(path)}, pathloss.Params(), wavelength=wl)
    assert jw.meta.cal_step.pathloss == "COMPLETE" and report.status == "COMPLETE"
    _assert_arrays(image, jw)
    np.testing.assert_allclose(image.pathloss_point, jw.pathloss_point, rtol=RTOL, equal_nan=True)
    assert ("slit centre" in report.note) == (offset[0] > 24)
    if offset[0] < 24:
        assert "(3.300, 0.400)" in report.note  # the target went through the inverse WCS


def test_pathloss_skips_extended_and_refuses_user_slit_loc(tmp_path):
    path = _lrs_pathloss_file(tmp_path / "lrs_pathloss.fits")
    image = _sc_image(np.ones((4, 3)), "MIR_LRS-FIXEDSLIT", miri=True, SRCTYPE="EXTENDED")
    _, report = pathloss.run(image, {"pathloss": read_reffile(path)})
    assert report.status == "SKIPPED" and np.all(image.data == 1.0)
    with pytest.raises(NotImplementedStepError, match="user_slit_loc"):
        pathloss.run(image, {}, pathloss.Params(user_slit_loc=0.1))


# ------------------------------------------------------------------------------ flat_field

def _flat_file(path, shape, substrt=(1, 1), seed=4):
    rng = np.random.default_rng(seed)
    flat = rng.uniform(0.8, 1.2, shape).astype(np.float32)
    flat[12, 10], flat[20, 15] = np.nan, 0.0  # inside the science window below
    dq = np.zeros(shape, np.uint32)
    dq[30, 8] = dqflags.NO_FLAT_FIELD
    model = datamodels.FlatModel(data=flat, err=np.full(shape, 0.01, np.float32), dq=dq)
    model.meta.instrument.name, model.meta.reftype = "MIRI", "FLAT"
    model.meta.subarray.name = "FULL" if substrt == (1, 1) else "GENERIC"
    model.meta.subarray.xstart, model.meta.subarray.ystart = substrt
    model.meta.subarray.xsize, model.meta.subarray.ysize = shape[1], shape[0]
    _ref_meta(model)
    model.save(path)
    return path


@pytest.mark.parametrize("exp_type, miri, filt, pupil", [("MIR_LRS-SLITLESS", True, "P750L", "N/A"),
                                                         ("NRC_WFSS", False, "F444W", "GRISMR")])
def test_flat_field_spectra_match_jwst(tmp_path, exp_type, miri, filt, pupil):
    """A 3-int rateints on a 40 x 30 window at (x, y) = (5, 9) of a 60 x 50 flat: the subarray
    cut, NaN/zero/NO_FLAT_FIELD flat pixels and VAR_FLAT as jwst."""
    from jwst.flatfield import FlatFieldStep
    from streamcal.steps import flat_field

    path = _flat_file(tmp_path / "flat.fits", (60, 50))
    data = np.random.default_rng(5).normal(30.0, 4.0, (3, 40, 30))
    image = _sc_image(data, exp_type, miri=miri, FILTER=filt, PUPIL=pupil, SUBARRAY="SUBTEST",
                      SUBSTRT1=5, SUBSTRT2=9, SUBSIZE1=30, SUBSIZE2=40)
    jw = _jwst_like(datamodels.CubeModel(data.shape), image)
    jw.meta.instrument.name = "MIRI" if miri else "NIRCAM"
    jw.meta.instrument.detector = "MIRIMAGE" if miri else "NRCALONG"
    jw.meta.exposure.type = exp_type
    sub = jw.meta.subarray
    sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize = "SUBTEST", 5, 9, 30, 40
    with offline_crds(tmp_path / "crds"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jw = FlatFieldStep.call(jw, override_flat=str(path), override_fflat="N/A", override_sflat="N/A",
                                override_dflat="N/A")

    image, report = flat_field.run(image, {"flat": read_reffile(path, window=image.meta.window())},
                                   flat_field.Params())
    assert jw.meta.cal_step.flat_field == "COMPLETE" and report.status == "COMPLETE"
    _assert_arrays(image, jw)
    bad = (image.dq[0] & dqflags.NO_FLAT_FIELD) != 0
    assert bad[12 - 8, 10 - 4] and bad[20 - 8, 15 - 4] and bad[30 - 8, 8 - 4] and bad.sum() == 3


def test_flat_field_skips_a_grism_cutout():
    from streamcal.steps import flat_field

    image = _sc_image(np.ones((1, 4, 5)), "NRC_WFSS", miri=False, S_EXTR2D="COMPLETE")
    _, report = flat_field.run(image, {"flat": None}, flat_field.Params())
    assert report.status == "SKIPPED" and "extract_2d" in report.note and np.all(image.data == 1)


# ------------------------------------------------------------------------------ background

def _wfss_scene(shape=(64, 80), seed=6):
    """A dispersed frame: 0.7 x a sloped template + noise + two bright traces + hot pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.indices(shape)
    template = (1.0 + 0.3 * x / shape[1] + 0.1 * np.sin(y / 7.0)).astype(np.float32)
    template[0, :5] = 0.0  # a template hole
    sci = 0.7 * template + rng.normal(0, 0.05, shape)
    sci[10:15, 5:70] += 5.0
    sci[40:44, 20:78] += 3.0
    sci[rng.integers(0, shape[0], 30), rng.integers(0, shape[1], 30)] += 50.0
    err = np.full(shape, 0.05, np.float32) + 0.01 * rng.random(shape).astype(np.float32)
    err[3, 3] = 0.0  # zero variance: never used
    boxes = [background_wfss.BBox(9.6, 14.2, 4.5, 69.5), background_wfss.BBox(39.0, 43.0, 19.2, 90.0)]
    return template, sci.astype(np.float32), err, boxes


def _bkg_file(path, template):
    dq = np.zeros(template.shape, np.uint32)
    dq[20, 20] = dqflags.DO_NOT_USE
    model = datamodels.WfssBkgModel(data=template, dq=dq)
    model.meta.instrument.name, model.meta.reftype = "NIRCAM", "BKG"
    sub = model.meta.subarray
    sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize = "FULL", 1, 1, template.shape[1], template.shape[0]
    _ref_meta(model)
    model.save(path)
    return path


@pytest.mark.parametrize("rms_stop", [0.0, 5.0], ids=["maxiter", "rms-stop"])
def test_wfss_background_matches_jwst(tmp_path, rms_stop):
    from jwst.background.background_sub_wfss import subtract_wfss_bkg
    from streamcal.steps import background

    template, sci, err, boxes = _wfss_scene()
    path = _bkg_file(tmp_path / "bkg.fits", template)
    mask = background_wfss.mask_from_boxes(sci.shape, boxes)
    image = _sc_image(sci, "NRC_WFSS", miri=False, FILTER="F444W", PUPIL="GRISMR")
    image.err[...] = err
    jw = _jwst_like(datamodels.ImageModel(sci.shape), image)
    jw.meta.exposure.type, jw.meta.wcsinfo.dispersion_direction = "NRC_WFSS", 1
    sub = jw.meta.subarray
    sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize = "FULL", 1, 1, sci.shape[1], sci.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jw = subtract_wfss_bkg(jw, str(path), None, user_mask=~mask,
                               rescaler_kwargs={"p": 1.0, "maxiter": 5, "delta_rms_thresh": rms_stop / 100})

    params = background.Params(wfss_rms_stop=rms_stop)
    image, report = background.run(image, {"bkg": read_reffile(path)}, params, source_mask=mask)
    factor = jw.meta.background.scaling_factor
    assert report.keywords["BKGSCALE"] == pytest.approx(factor, rel=RTOL)
    assert factor == pytest.approx(0.7, abs=0.01)  # the truth, through the traces and hot pixels
    # the residuals are near 0 (cancellation): 1e-5 of the subtracted level (~0.7) absolute; jwst
    # keeps the difference in float64, streamcal stores float32 (rounding 6e-8 here)
    _assert_arrays(image, jw, names=("data", "err"), atol=RTOL * 0.7)


def test_wfss_background_mask_callable_and_failures(tmp_path):
    from streamcal.steps import background

    template, sci, err, boxes = _wfss_scene()
    ref = {"bkg": read_reffile(_bkg_file(tmp_path / "bkg.fits", template))}
    image = _sc_image(sci, "NRC_WFSS", miri=False, FILTER="F444W", PUPIL="GRISMR")
    seen = []
    trace_code = lambda im: seen.append(im) or background_wfss.mask_from_boxes(im.data.shape, boxes)  # noqa: E731
    _, report = background.run(image, ref, background.Params(), source_mask=trace_code)
    assert seen == [image] and report.status == "COMPLETE"
    everything = _sc_image(sci, "NRC_WFSS", miri=False, FILTER="F444W", PUPIL="GRISMR")
    _, report = background.run(everything, ref, source_mask=lambda im: np.ones(im.data.shape, bool))
    assert report.status == "FAILED" and np.array_equal(everything.data, sci)


# ------------------------------------------------------------------------------ LRS, real WCS

def test_lrs_fixed_slit_pathloss_then_photom_through_the_lrs_wcs(tmp_path):
    """Model level: the wavelengths and the source position come from streamcal's LRS gwcs
    (streamcal.wcs.lrs) and the synthetic LRS references; jwst gets the same gwcs as meta.wcs and
    the same files, and runs PathLossStep then PhotomStep on a SlitModel, as spec2 does."""
    from jwst.pathloss import PathLossStep
    from jwst.photom import PhotomStep
    from streamcal.refs import ReferenceSet
    from streamcal.wcs.lrs import LrsSpecwcs, lrs_wcs, reference_point
    from test_lrs_wcs import MODES, POINTING, meta_of

    refs = ReferenceSet(cache_dir=tmp_path / "refs")
    meta = meta_of("MIR_LRS-FIXEDSLIT")
    spec = LrsSpecwcs.from_refdata(refs.get("specwcs", meta))
    _, start, size = MODES["MIR_LRS-FIXEDSLIT"]
    wcs = lrs_wcs(POINTING, refs.get("distortion", meta).tree["model"], spec, meta.exp_type, start, size)
    x0, y0 = reference_point(spec, meta.exp_type, start)
    ra, dec, _ = wcs(x0 + 1.3, y0 + 0.2, with_bounding_box=False)
    data = np.random.default_rng(7).normal(5.0, 1.0, (size[1], size[0]))
    image = _sc_image(data, meta.exp_type, miri=True, FILTER="P750L", SRCTYPE="POINT", TARG_RA=ra, TARG_DEC=dec)
    image.wcs = wcs
    jw = _jwst_like(datamodels.SlitModel(data.shape), image)
    jw.meta.wcs = wcs
    jw.meta.instrument.name, jw.meta.instrument.detector, jw.meta.instrument.filter = "MIRI", "MIRIMAGE", "P750L"
    jw.meta.exposure.type, jw.meta.subarray.name = meta.exp_type, "FULL"
    jw.meta.target.source_type, jw.meta.target.ra, jw.meta.target.dec = "POINT", ra, dec
    jw.meta.exposure.mid_time = 60000.0
    with offline_crds(tmp_path / "crds"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        jw = PathLossStep.call(jw, override_pathloss=str(refs.select("pathloss", meta)))
        jw = PhotomStep.call(jw, override_photom=str(refs.select("photom", meta)), override_area="N/A")

    image, rep_pl = pathloss.run(image, {"pathloss": refs.get("pathloss", meta)})
    image, rep_ph = photom.run(image, {"photom": refs.get("photom", meta)})
    # y comes back from the reference wavelength, so only the along-slit offset survives (as in jwst)
    assert "(1.300, 0.000)" in rep_pl.note and rep_ph.status == "COMPLETE"
    _assert_arrays(image, jw)
    np.testing.assert_allclose(image.pathloss_point, jw.pathloss_point, rtol=RTOL, equal_nan=True)
    assert np.isfinite(image.data).sum() > 1000  # the slit's trace is calibrated


def test_lrs_nod_background_matches_jwst():
    """LRS nods: the other nod positions' rates, sigma-clipped mean, subtracted per pixel (the
    imaging algorithm, which spec2 uses for every mode with background members)."""
    from jwst.background.background_sub import background_sub
    from streamcal.steps import background

    rng = np.random.default_rng(8)
    shape = (30, 12)
    sky = rng.normal(3.0, 0.2, shape)
    members = []
    for k in range(3):
        bkg = sky + rng.normal(0, 0.05, shape)
        bkg[5 + 8 * k: 9 + 8 * k, 4:7] += 40.0  # the source at this nod position
        members.append(_sc_image(bkg, "MIR_LRS-FIXEDSLIT", miri=True, FILTER="P750L"))
    members[1].dq[2, 2] = dqflags.DO_NOT_USE
    target = _sc_image(sky + 10.0, "MIR_LRS-FIXEDSLIT", miri=True, FILTER="P750L")

    def as_jwst(image):
        model = _jwst_like(datamodels.ImageModel(shape), image)
        sub = model.meta.subarray
        sub.name, sub.xstart, sub.ystart, sub.xsize, sub.ysize = "FULL", 1, 1, shape[1], shape[0]
        return model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, jw = background_sub(as_jwst(target), [as_jwst(m) for m in members], 3.0, None)
    out, report = background.run(target, {}, background.Params(), backgrounds=members)
    assert report.status == "COMPLETE"
    _assert_arrays(out, jw, names=("data", "err"))


def test_photom_niriss_wfss_column_dispersion_matches_jwst(tmp_path):
    """NIS_WFSS GR150R disperses along y (DISPAXIS 2): the dispersion is taken down the columns."""
    waves = np.linspace(1.2, 1.9, 80).astype(np.float32)
    table = np.zeros(2, dtype=[("filter", "S12"), ("pupil", "S15"), ("order", "i2"), ("photmjsr", "f4"),
                               ("uncertainty", "f4"), ("nelem", "i2"), ("wavelength", "f4", (100,)),
                               ("relresponse", "f4", (100,)), ("reluncertainty", "f4", (100,))])
    for i, order in enumerate((1, 2)):
        table[i]["filter"], table[i]["pupil"], table[i]["order"] = "GR150R", "F150W", order
        table[i]["photmjsr"], table[i]["nelem"] = 3.0 * order, 80
        table[i]["wavelength"][:80] = waves
        table[i]["relresponse"][:80] = 1.0 + 0.5 * np.sin(4 * waves)
    ref = datamodels.NisWfssPhotomModel(phot_table=table)
    ref.meta.instrument.name, ref.meta.reftype = "NIRISS", "PHOTOM"
    ref.meta.photometry.pixelarea_steradians, ref.meta.photometry.pixelarea_arcsecsq = 1e-13, 0.0043
    _ref_meta(ref)
    path = tmp_path / "nis_photom.fits"
    ref.save(path)

    wl = np.ascontiguousarray(  # a GRISMR-like cutout transposed: y is the dispersion axis
        _wfss_cutout(ny=7, nx=120, wl0=1.3, wl1=1.8).T)
    data = np.random.default_rng(9).normal(1.0, 0.2, wl.shape)
    image = _sc_image(data, "NIS_WFSS", miri=False, FILTER="GR150R", PUPIL="F150W", SPORDER=2)
    slit = _jwst_like(datamodels.SlitModel(data.shape), image)
    slit.wavelength, slit.name = wl.copy(), "7"
    slit.meta.wcsinfo.spectral_order = 2
    jw = datamodels.MultiSlitModel()
    jw.slits.append(slit)
    jw.meta.instrument.name, jw.meta.instrument.detector = "NIRISS", "NIS"
    jw.meta.instrument.filter, jw.meta.instrument.pupil = "GR150R", "F150W"
    jw.meta.exposure.type, jw.meta.exposure.mid_time = "NIS_WFSS", 60000.0
    jw = _jwst_photom(jw, path, tmp_path)

    image, report = photom_spec.run(image, {"photom": read_reffile(path)}, photom.Params(), wavelength=wl)
    assert "row 1" in report.note and "dispersion" in report.note
    _assert_arrays(image, jw.slits[0])
