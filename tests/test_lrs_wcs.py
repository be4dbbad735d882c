"""The MIRI LRS WCS (streamcal.wcs.lrs) against jwst 3.0's AssignWcsStep on the same DISTORTION
and SPECWCS files (the synthetic set), fixed slit and slitless; the synthetic LRS references
open in jwst as their model classes; streamcal's assign_wcs step builds the LRS WCS."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from jwstkit import offline_crds
from streamcal.models import ExposureMeta, ImageModel
from streamcal.refs import ReferenceSet
from streamcal.refs import synth_lrs
from streamcal.steps import assign_wcs
from streamcal.wcs import Pointing
from streamcal.wcs.lrs import LrsSpecwcs, lrs_wcs, reference_point, wavelength_map

POINTING = Pointing(80.4876, -69.4983, -378.9, -344.2, 47.3, 4.45, -1, 1.00003)
#: (EXP_TYPE, SUBARRAY, SUBSTRT, SUBSIZE (x, y))
MODES = {"MIR_LRS-FIXEDSLIT": ("FULL", (1, 1), (1032, 1024)),
         "MIR_LRS-SLITLESS": ("SLITLESSPRISM", (1, 529), (72, 416))}
#: LRS wavelengths are tabulated to float64 precision and both sides evaluate the same splines:
#: agreement to 1e-6 um (1e-7 of the band) is rounding, not modelling.
WAVE_TOL_UM = 1e-6
#: 1e-7 deg = 0.36 mas, a thousandth of a pixel: both sides rotate V2/V3 with the same Euler
#: sequence; differences are rounding.
SKY_TOL_DEG = 1e-7


def meta_of(exp_type: str) -> ExposureMeta:
    sub, start, size = MODES[exp_type]
    return ExposureMeta(filename="jw01234001001_01101_00001_mirimage_rate.fits", instrument="MIRI",
                        detector="MIRIMAGE", exp_type=exp_type, nints=1, ngroups=5, nframes=1, groupgap=0,
                        tframe=2.775, tgroup=2.775, subarray=sub, substrt1=start[0], substrt2=start[1],
                        subsize1=size[0], subsize2=size[1], filter="P750L")


@pytest.fixture(scope="module")
def refs(tmp_path_factory) -> ReferenceSet:
    return ReferenceSet(cache_dir=tmp_path_factory.mktemp("lrsrefs"))


#: VELOSYS of the jwst comparison, m/s (so the barycentric correction is compared too).
VELOSYS = 2.5e4


def streamcal_wcs(refs: ReferenceSet, exp_type: str, velosys: float | None = None):
    meta = meta_of(exp_type)
    spec = LrsSpecwcs.from_refdata(refs.get("specwcs", meta))
    _, start, size = MODES[exp_type]
    return lrs_wcs(POINTING, refs.get("distortion", meta).tree["model"], spec, exp_type, start, size,
                   velosys=velosys), spec


def write_rate(path, exp_type: str) -> None:
    """A small jwst ImageModel with the metadata assign_wcs reads (pointing, subarray, dither)."""
    from stdatamodels.jwst import datamodels

    sub, start, size = MODES[exp_type]
    model = datamodels.ImageModel(np.zeros((size[1], size[0]), np.float32))
    m = model.meta
    m.instrument.name, m.instrument.detector, m.instrument.filter = "MIRI", "MIRIMAGE", "P750L"
    m.exposure.type, m.observation.date, m.observation.time = exp_type, "2025-01-01", "00:00:00"
    m.subarray.name, m.subarray.xstart, m.subarray.ystart = sub, start[0], start[1]
    m.subarray.xsize, m.subarray.ysize = size
    m.subarray.fastaxis, m.subarray.slowaxis = 1, 2
    w = m.wcsinfo
    w.ra_ref, w.dec_ref, w.v2_ref, w.v3_ref, w.roll_ref = (POINTING.ra_ref, POINTING.dec_ref, POINTING.v2_ref,
                                                           POINTING.v3_ref, POINTING.roll_ref)
    w.v3yangle, w.vparity, w.velosys = POINTING.v3yangle, POINTING.vparity, VELOSYS
    m.velocity_aberration.scale_factor = POINTING.va_scale
    m.dither.x_offset, m.dither.y_offset = 1.0, 0.0
    m.target.ra, m.target.dec = POINTING.ra_ref, POINTING.dec_ref
    model.save(path)


@pytest.fixture(scope="module", params=list(MODES))
def both(request, refs, tmp_path_factory):
    """(exp_type, jwst's model after AssignWcsStep, streamcal's WCS, specwcs)."""
    from jwst.assign_wcs import AssignWcsStep

    exp_type = request.param
    base = tmp_path_factory.mktemp("lrswcs")
    rate = base / "jw01234001001_01101_00001_mirimage_rate.fits"
    write_rate(rate, exp_type)
    meta = meta_of(exp_type)
    with offline_crds(base / "crds"):
        unused = ("regions", "wavelengthrange", "camera", "chromcorr", "collimator", "disperser", "fore", "fpa",
                  "msa", "ote", "ifupost", "ifufore", "ifuslicer", "filteroffset")
        result = AssignWcsStep.call(str(rate), override_distortion=str(refs.select("distortion", meta)),
                                    override_specwcs=str(refs.select("specwcs", meta)),
                                    **{f"override_{n}": "N/A" for n in unused})
    ours, spec = streamcal_wcs(refs, exp_type, VELOSYS)
    return exp_type, result, ours, spec


def test_bounding_boxes_equal(both):
    exp_type, theirs, ours, _ = both
    assert np.array_equal(np.array(ours.bounding_box.bounding_box(order="F")),
                          np.array(theirs.meta.wcs.bounding_box.bounding_box(order="F")))


def test_detector_to_world_matches_jwst(both):
    """A grid over the bounding box: (ra, dec, lambda) agree; NaN in the same places."""
    exp_type, theirs, ours, _ = both
    (x0, x1), (y0, y1) = ours.bounding_box.bounding_box(order="F")
    x, y = np.meshgrid(np.linspace(x0 + 0.5, x1 - 0.5, 17), np.linspace(y0 + 0.5, y1 - 0.5, 41))
    ra1, dec1, lam1 = ours(x, y)
    ra2, dec2, lam2 = theirs.meta.wcs(x, y)
    assert np.array_equal(np.isnan(lam1), np.isnan(lam2))
    ok = np.isfinite(lam1)
    assert ok.mean() > 0.9
    assert np.nanmax(np.abs(lam1 - lam2)) < WAVE_TOL_UM
    assert np.nanmax(np.abs(ra1 - ra2) * np.cos(np.deg2rad(dec1))) < SKY_TOL_DEG
    assert np.nanmax(np.abs(dec1 - dec2)) < SKY_TOL_DEG
    # and the inverse: world -> detector returns the pixels to 1e-3 px (measured 2e-5: the
    # distortion's inverse is a fitted polynomial; lambda(y) is piecewise linear both ways)
    xb, yb = ours.invert(ra1[ok], dec1[ok], lam1[ok])
    assert np.max(np.hypot(xb - x[ok], yb - y[ok])) < 1e-3


def test_wavelength_map_and_pathloss_reference_point(both):
    """The wavelength helper equals jwst's ``model.wavelength``; the reference point is
    recoverable from the model parameters as jwst's pathloss does (offset_1, offset_2)."""
    exp_type, theirs, ours, spec = both
    lam = wavelength_map(ours, theirs.data.shape)
    assert np.array_equal(np.isnan(lam), np.isnan(theirs.wavelength))
    assert np.nanmax(np.abs(lam - theirs.wavelength)) < WAVE_TOL_UM
    det_to_sky = ours.get_transform("detector", "world")
    zero = reference_point(spec, exp_type, MODES[exp_type][1])
    assert (-det_to_sky.offset_1, -det_to_sky.offset_2) == pytest.approx(zero, abs=1e-12)


def streamcal_step(refs, exp_type: str, **cards):
    """streamcal's assign_wcs on an LRS ImageModel with the pointing of :data:`POINTING`."""
    sub, start, size = MODES[exp_type]
    meta = meta_of(exp_type)
    hdr = fits.Header({"EXP_TYPE": exp_type, **cards})
    data = np.zeros((size[1], size[0]), np.float32)
    model = ImageModel(meta, hdr, data, data.copy(), np.zeros(data.shape, np.uint32),
                       sci_header=fits.Header(POINTING.to_cards()))
    return assign_wcs.run(model, {t: refs.get(t, meta) for t in ("distortion", "specwcs")})[0]


def test_s_region_and_dithered_position_match_jwst(both, refs):
    """S_REGION (fixed slit: the slit corners; slitless: left unset, as jwst) and, for the
    slit, DITH_RA/DITH_DEC from XOFFSET = 1" equal jwst's within 1e-9 deg (the printed
    precision of S_REGION)."""
    exp_type, theirs, _, _ = both
    ours = streamcal_step(refs, exp_type, XOFFSET=1.0, YOFFSET=0.0)
    if exp_type == "MIR_LRS-SLITLESS":
        assert theirs.meta.wcsinfo.s_region is None and "S_REGION" not in ours.sci_header
        return
    numbers = [np.array(r.split()[2:], float) for r in (ours.sci_header["S_REGION"], theirs.meta.wcsinfo.s_region)]
    np.testing.assert_allclose(numbers[0], numbers[1], rtol=0, atol=1e-9)
    assert ours.header["DITH_RA"] == pytest.approx(theirs.meta.dither.dithered_ra, abs=1e-9)
    assert ours.header["DITH_DEC"] == pytest.approx(theirs.meta.dither.dithered_dec, abs=1e-9)


def test_velosys_scales_the_wavelengths(refs):
    """VELOSYS (m/s) divides every wavelength by 1 + v/c, as jwst's velocity_correction."""
    meta = meta_of("MIR_LRS-FIXEDSLIT")
    spec = LrsSpecwcs.from_refdata(refs.get("specwcs", meta))
    model = refs.get("distortion", meta).tree["model"]
    plain = lrs_wcs(POINTING, model, spec, meta.exp_type, (1, 1), (1032, 1024))
    moving = lrs_wcs(POINTING, model, spec, meta.exp_type, (1, 1), (1032, 1024), velosys=3.0e4)
    y = np.arange(60.0, 380.0, 10.0)
    lam0, lam1 = plain(np.full(y.size, 326.0), y)[2], moving(np.full(y.size, 326.0), y)[2]
    np.testing.assert_allclose(lam1, lam0 / (1 + 3.0e4 / 299792458.0), rtol=1e-14)


def test_references_open_as_their_jwst_classes(refs):
    """jwst 3.0 opens each synthetic LRS file as the class of its DATAMODL, with its table."""
    from stdatamodels.jwst import datamodels

    attribute = {"specwcs": "wavetable", "photom": "phot_table", "pathloss": "pathloss_table",
                 "apcorr": "apcorr_table", "flat": "data"}
    for exp_type in MODES:
        meta = meta_of(exp_type)
        for reftype, attr in attribute.items():
            path = refs.select(reftype, meta)
            cls = getattr(datamodels, fits.getval(path, "DATAMODL"))
            with cls(str(path)) as model:
                assert np.size(getattr(model, attr)) > 0, (exp_type, reftype)
                assert model.meta.exposure.type == exp_type
        with datamodels.MiriLRSSpecwcsModel(str(refs.select("specwcs", meta))) as model:
            assert model.meta.x_ref == synth_lrs.IMX and model.meta.y_ref_slitless == synth_lrs.IMYSLTL
    imaging = meta_of("MIR_LRS-FIXEDSLIT")
    imaging = ExposureMeta(**{**imaging.__dict__, "exp_type": "MIR_IMAGE", "filter": "F770W"})
    assert refs.get("specwcs", imaging) is None


def test_photom_budget_is_the_documented_formula(refs):
    """PHOTMJSR * RELRESPONSE at the table nodes is h gain / (1e-20 Omega A T R_pix)."""
    from streamcal.detectors import DETECTORS

    det = DETECTORS["MIRIMAGE"]
    ref = refs.get("photom", meta_of("MIR_LRS-FIXEDSLIT"))
    row = ref.tables["PHOTOM"][0]
    lam = np.asarray(row["wavelength"], np.float64)
    conv = row["photmjsr"] * np.asarray(row["relresponse"], np.float64)
    assert conv == pytest.approx(synth_lrs.conversion_mjsr(det, lam), rel=1e-6)   # float32 storage


def test_assign_wcs_step_builds_the_lrs_wcs(refs):
    """streamcal's step on an LRS image: model.wcs is lrs_wcs of the same references; an
    imaging exposure still needs no specwcs; an LRS one without specwcs is an error."""
    from streamcal.errors import ReferenceFileError

    for exp_type, (sub, start, size) in MODES.items():
        out = streamcal_step(refs, exp_type)
        ours, _ = streamcal_wcs(refs, exp_type)
        x, y = np.meshgrid(np.arange(10, size[0] - 10, 7.0), np.arange(60, 380, 13.0))
        np.testing.assert_array_equal(np.array(out.wcs(x, y)), np.array(ours(x, y)))
        with pytest.raises(ReferenceFileError, match="specwcs"):
            assign_wcs.run(out, {"distortion": refs.get("distortion", meta_of(exp_type))})
    assert "specwcs" in assign_wcs.OPTIONAL_REFTYPES and "specwcs" not in assign_wcs.REFTYPES


def test_wcs_survives_asdf_serialisation(both):
    """Products carry the WCS in their ASDF extension: the LRS WCS round-trips exactly."""
    from streamcal.wcs import wcs_from_asdf_bytes, wcs_to_asdf_bytes

    _, _, ours, _ = both
    back = wcs_from_asdf_bytes(wcs_to_asdf_bytes(ours))
    (x0, x1), (y0, y1) = ours.bounding_box.bounding_box(order="F")
    x, y = np.meshgrid(np.linspace(x0, x1, 9), np.linspace(y0, y1, 31))
    np.testing.assert_array_equal(np.array(back(x, y)), np.array(ours(x, y)))
    assert back.bounding_box.bounding_box(order="F") == ours.bounding_box.bounding_box(order="F")
    assert [f for f in back.available_frames] == ["detector", "alpha_beta", "v2v3", "v2v3vacorr", "world"]


@pytest.mark.parametrize("exp_type", list(MODES))
def test_apcorr_reads_in_jwst_as_documented(refs, exp_type):
    """jwst's extract_1d aperture correction on the synthetic APCORR: at a table node the box
    correction is 1 / erf(W / (2 sqrt2 sigma)) (float32 storage: 1e-6)."""
    from jwst.extract_1d.apply_apcorr import select_apcorr
    from stdatamodels.jwst import datamodels
    from scipy.special import erf

    from streamcal.detectors import DETECTORS

    sub, _, size = MODES[exp_type]
    model = datamodels.ImageModel(np.zeros((size[1], size[0]), np.float32))
    model.meta.instrument.name, model.meta.exposure.type, model.meta.subarray.name = "MIRI", exp_type, sub
    with datamodels.MirLrsApcorrModel(str(refs.select("apcorr", meta_of(exp_type)))) as ref:
        apcorr = select_apcorr(model)(model, ref.apcorr_table, ref.sizeunit)
    det = DETECTORS["MIRIMAGE"]
    lam, width = float(synth_lrs.TABLE_WAVELENGTHS[80]), 9.0
    sigma = synth_lrs.psf_sigma_arcsec(lam, det.pixel_scale) / det.pixel_scale
    expected = 1.0 / erf(width / (2 * np.sqrt(2.0) * sigma))
    assert np.asarray(apcorr.apcorr_func(width, lam)).item() == pytest.approx(expected, rel=1e-6)
