"""Grism dispersion and WCS (streamcal.wcs.grism) against jwst 3.0's assign_wcs.

Tolerances: trace positions <= 0.01 px and wavelengths <= 1e-5 um (the required agreement).  Both
sides evaluate the same polynomials with the same inversion algorithms, so the observed
differences are <= 1e-12 px and <= 5e-16 um (floating-point order of operations); the limits leave room
only for that.  The world coordinates of the full gwcs are compared to 1e-9 deg (same
distortion model and rotation on both sides).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import extdata
from grismkit import GrismCase, jwst_assign_wcs, source_grid, streamcal_wcs, write_refs
from streamcal.errors import ReferenceFileError
from streamcal.refs.asdf_io import read_asdf_reffile
from streamcal.wcs import grism

PIX_TOL = 0.01      # px
WAVE_TOL = 1e-5     # um

CASES = {
    "nrc_wfss_grismr": GrismCase("NRC_WFSS", "NRCALONG", "GRISMR", "F444W"),
    "nrc_wfss_grismc": GrismCase("NRC_WFSS", "NRCALONG", "GRISMC", "F356W"),
    "nis_wfss_gr150r": GrismCase("NIS_WFSS", "NIS", "GR150R", "F115W", fwcpos=0.24),
    "nis_wfss_gr150c": GrismCase("NIS_WFSS", "NIS", "GR150C", "F200W", fwcpos=-0.31),
    "nrc_tsgrism": GrismCase("NRC_TSGRISM", "NRCALONG", "GRISMR", "F444W", shape=(64, 2048), substrt=(1, 1985),
                             subarray="SUBGRISM64", xref_sci=1008.5, yref_sci=2018.0),
    # barycentric correction of the wavelengths (full-pipeline test only)
    "nis_wfss_velosys": GrismCase("NIS_WFSS", "NIS", "GR150C", "F150W", fwcpos=0.1, velosys=-28500.0),
    "nrc_wfss_velosys": GrismCase("NRC_WFSS", "NRCALONG", "GRISMR", "F444W", velosys=28500.0),
}
#: the cases whose direct-image -> dispersed transforms are the bare dispersion
PLAIN = [n for n, c in CASES.items() if c.exp_type != "NRC_TSGRISM" and c.velosys is None]


@pytest.fixture(scope="module")
def pair(request, tmp_path_factory):
    """{case name: (case, specwcs, streamcal gwcs, jwst gwcs)} built lazily."""
    pytest.importorskip("jwst")
    made = {}

    def get(name):
        if name not in made:
            case = CASES[name]
            d = tmp_path_factory.mktemp(name)
            paths = write_refs(case, d)
            result = jwst_assign_wcs(case, paths, d / "crds", nints=2 if case.exp_type == "NRC_TSGRISM" else 0)
            spec, wcs = streamcal_wcs(case, paths)
            made[name] = (case, spec, wcs, result.meta.wcs)
        return made[name]

    return get


def _orders(spec):
    return spec.orders


@pytest.mark.parametrize("name", PLAIN)
def test_backward_trace_matches_jwst(pair, name):
    case, spec, _, jw = pair(name)
    to_grism = jw.get_transform("detector", "grism_detector")
    theta = (case.fwcpos or 0.0) - spec.fwcpos_ref
    for order in spec.orders:
        i = spec.index(order)
        for x0, y0 in source_grid():
            # t from 0.02 to 0.98: the wavelengths the band covers
            wl = spec.displ[i](np.linspace(0.02, 0.98, 15), x0, y0)
            jx, jy, *_ = to_grism(x0, y0, wl, order)
            sx, sy = grism.trace(spec, x0, y0, wl, order, theta=theta)
            np.testing.assert_allclose(np.ravel(jx), sx, rtol=0, atol=PIX_TOL)
            np.testing.assert_allclose(np.ravel(jy), sy, rtol=0, atol=PIX_TOL)


@pytest.mark.parametrize("name", PLAIN)
def test_forward_wavelength_matches_jwst(pair, name):
    case, spec, _, jw = pair(name)
    to_direct = jw.get_transform("grism_detector", "detector")
    theta = (case.fwcpos or 0.0) - spec.fwcpos_ref
    for order in spec.orders:
        for x0, y0 in source_grid():
            # pixels along the trace (and 3 px off it across the dispersion)
            tx, ty = grism.trace(spec, x0, y0, spec.displ[spec.index(order)](np.linspace(0, 1, 12), x0, y0),
                                 order, theta=theta)
            x, y = (tx, ty + 3) if case.dispaxis == 1 else (tx + 3, ty)
            if case.instrument == "NIRISS":
                # jwst's NIRISS forward model wants (x0, y0, order) shaped like (x, y); NIRCam's scalars
                x0a, y0a, oa = (np.full_like(x, v) for v in (x0, y0, order))
                _, _, jl, _ = to_direct(x, y, x0a, y0a, oa)
            else:
                _, _, jl, _ = to_direct(x, y, x0, y0, order)
            sl = grism.wavelength_at(spec, x, y, x0, y0, order, dispaxis=case.dispaxis, theta=theta)
            np.testing.assert_allclose(np.ravel(jl), sl, rtol=0, atol=WAVE_TOL)


@pytest.mark.parametrize("name", list(CASES))
def test_full_gwcs_matches_jwst(pair, name):
    """Pixel -> (ra, dec, wavelength, order) and back through the whole pipeline."""
    case, spec, wcs, jw = pair(name)
    ny, nx = case.shape
    x = np.array([10.0, 300.0, 1200.0, 1900.0])
    y = np.array([5.0, ny / 2, ny - 10.0, ny / 3])
    if case.exp_type == "NRC_TSGRISM":
        mine, theirs = wcs(x, y, 1), jw(x, y, 1)
    else:
        src = (1000.0, 900.0, 1)
        if case.instrument == "NIRISS":
            src = tuple(np.full_like(x, v) for v in src)   # jwst's NIRISS model wants arrays
        mine, theirs = wcs(x, y, *src), jw(x, y, *src)
    np.testing.assert_allclose(mine[0], theirs[0], rtol=0, atol=1e-9)
    np.testing.assert_allclose(mine[1], theirs[1], rtol=0, atol=1e-9)
    np.testing.assert_allclose(mine[2], theirs[2], rtol=0, atol=WAVE_TOL)
    if case.exp_type != "NRC_TSGRISM":
        back_mine = wcs.invert(80.001, -69.4995, 1.0 if case.instrument == "NIRISS" else 4.2, 1)
        back_jwst = jw.invert(80.001, -69.4995, 1.0 if case.instrument == "NIRISS" else 4.2, 1)
        np.testing.assert_allclose(np.ravel(back_mine[:2]), np.ravel(back_jwst[:2]), rtol=0, atol=PIX_TOL)


def test_tsgrism_wavelengths_match_jwst(pair):
    """NRC_TSGRISM: subarray pixels, source fixed at XREF_SCI/YREF_SCI."""
    case, spec, wcs, jw = pair("nrc_tsgrism")
    x = np.arange(0.0, 2048.0, 37.0)
    y = np.full_like(x, 34.0)
    np.testing.assert_allclose(wcs(x, y, 1)[2], jw(x, y, 1)[2], rtol=0, atol=WAVE_TOL)
    # the same through the numpy functions: full-frame y, source at the keyword values
    sl = grism.wavelength_at(spec, x, y + case.substrt[1] - 1, case.xref_sci, case.yref_sci, 1, dispaxis=1)
    np.testing.assert_allclose(sl, jw(x, y, 1)[2], rtol=0, atol=WAVE_TOL)


def test_dispersion_is_realistic(pair):
    """~1 nm/px for NIRCam LW, ~0.47 nm/px for NIRISS first order."""
    for name, expected in (("nrc_wfss_grismr", 0.001), ("nis_wfss_gr150r", 0.000475)):
        case, spec, _, _ = pair(name)
        wl = np.array([1.10, 1.11]) if case.instrument == "NIRISS" else np.array([4.40, 4.41])
        x, y = grism.trace(spec, 1024.0, 1024.0, wl, 1)
        along = abs(np.diff(y if case.dispaxis == 2 else x)[0])
        assert 0.9 < 0.01 / along / expected < 1.1


def test_round_trip_and_errors(tmp_path):
    """wavelength_at(trace(lambda)) = lambda (within the 40-sample interpolation); clear errors."""
    case = CASES["nrc_wfss_grismr"]
    spec = grism.specwcs_from_tree(read_asdf_reffile(write_refs(case, tmp_path)["specwcs"]).tree)
    wl = np.linspace(3.9, 4.95, 20)
    x, y = grism.trace(spec, 700.0, 1300.0, wl, 1)
    back = grism.wavelength_at(spec, x, y, 700.0, 1300.0, 1, dispaxis=1)
    # piecewise-linear t over 40 samples of a trace with curvature: a few 1e-5 um
    np.testing.assert_allclose(back, wl, rtol=0, atol=2e-4)
    with pytest.raises(ValueError, match="order"):
        grism.trace(spec, 700.0, 1300.0, wl, 2)
    with pytest.raises(ValueError, match="positive"):
        grism.trace(spec, 700.0, 1300.0, -wl, 1)
    with pytest.raises(ValueError, match="dispaxis"):
        grism.wavelength_at(spec, x, y, 700.0, 1300.0, 1, dispaxis=3)
    with pytest.raises(ValueError, match="not implemented"):
        grism.grism_wcs(spec, None, None, exp_type="MIR_WFSS", shape=(4, 4), dispaxis=1)


def test_real_nircam_dhs_specwcs_matches_jwst_transforms():
    """The in-flight NRCA1 specwcs (a DHS file: one model set per stripe and field point).

    Every stripe's dispersion, read by streamcal, against the forward/backward transform pair
    jwst 3.0's DHS assign_wcs builds for that stripe (``nircam._build_grism_det2det`` on
    NIRCAMGrismModel's models, as ``nircam.dhs`` does).  The full DHS AssignWcsStep needs a
    REGIONS reference and multistripe subarray metadata that are not available here.
    """
    path = extdata("reffiles", "nircam_nrca1_specwcs.asdf")
    pytest.importorskip("jwst")
    from jwst.assign_wcs import nircam
    from stdatamodels.jwst.datamodels import NIRCAMGrismModel

    tree = read_asdf_reffile(path).tree
    with pytest.raises(ReferenceFileError, match="DHS"):
        grism.specwcs_from_tree(tree)
    with NIRCAMGrismModel(str(path)) as f:
        displ, dispx, dispy = f.displ.instance, f.dispx.instance, f.dispy.instance
        orders, stripes, fields = f.orders.instance, f.stripes.instance, f.fieldpoints.instance
    wl = np.linspace(0.9, 2.3, 15)
    for i, (stripe, field) in enumerate(zip(stripes, fields)):
        spec = grism.stripe_specwcs(tree, stripe, field)
        det2det = nircam._build_grism_det2det(orders, displ[i], dispx[i], dispy[i])
        for x0, y0 in source_grid(3, 10.0, 2000.0):
            jx, jy, *_ = det2det.inverse(x0, y0, wl, 1)
            sx, sy = grism.trace(spec, x0, y0, wl, 1)
            np.testing.assert_allclose(np.ravel(jx), sx, rtol=0, atol=PIX_TOL)
            np.testing.assert_allclose(np.ravel(jy), sy, rtol=0, atol=PIX_TOL)
            x = np.linspace(0.0, 2047.0, 25)
            _, _, jl, _ = det2det(x, np.full_like(x, y0), x0, y0, 1)
            sl = grism.wavelength_at(spec, x, np.full_like(x, y0), x0, y0, 1, dispaxis=1)
            np.testing.assert_allclose(np.ravel(jl), sl, rtol=0, atol=WAVE_TOL)


@pytest.mark.parametrize("pupil", ["GRISMR", "GRISMC"])
def test_field_dependent_along_trace_matches_jwst_transforms(tmp_path, pupil):
    """NIRCam's forward t-interpolation (along-dispersion offset sampled on 40 values of t for
    the source position) against jwst's transform pair built by ``nircam._build_grism_det2det``
    from the same file (jwst evaluates this form only for scalar source positions)."""
    pytest.importorskip("jwst")
    from jwst.assign_wcs import nircam
    from stdatamodels.jwst.datamodels import NIRCAMGrismModel
    from streamcal.detectors import get_detector
    from streamcal.refs import synth_grism
    from streamcal.refs.asdf_io import write_asdf_reffile

    path = tmp_path / "specwcs.asdf"
    write_asdf_reffile(synth_grism.nircam_specwcs_tree(get_detector("NRCALONG"), pupil, "F322W2", path.name,
                                                       along_field_dependent=True), path)
    spec = grism.specwcs_from_tree(read_asdf_reffile(path).tree)
    with NIRCAMGrismModel(str(path)) as f:
        det2det = nircam._build_grism_det2det(f.orders.instance, f.displ.instance, f.dispx.instance,
                                              f.dispy.instance, pupil=pupil)
    dispaxis = grism.dispaxis_of("NIRCAM", pupil)
    for x0, y0 in source_grid(3):
        wl = np.linspace(2.45, 4.0, 13)
        jx, jy, *_ = det2det.inverse(x0, y0, wl, 1)
        sx, sy = grism.trace(spec, x0, y0, wl, 1)
        np.testing.assert_allclose(np.ravel(jx), sx, rtol=0, atol=PIX_TOL)
        np.testing.assert_allclose(np.ravel(jy), sy, rtol=0, atol=PIX_TOL)
        _, _, jl, _ = det2det(sx, sy, x0, y0, 1)
        sl = grism.wavelength_at(spec, sx, sy, x0, y0, 1, dispaxis=dispaxis)
        np.testing.assert_allclose(np.ravel(jl), sl, rtol=0, atol=WAVE_TOL)


def test_grism_keywords_from_headers():
    from astropy.io import fits

    prim = fits.Header({"EXP_TYPE": "NIS_WFSS", "INSTRUME": "NIRISS", "FILTER": "GR150R", "PUPIL": "F150W",
                        "FWCPOS": 0.25})
    kw = grism.GrismKeywords.from_headers(prim, fits.Header({"VELOSYS": 1000.0}))
    assert (kw.grism, kw.band, kw.dispaxis, kw.fwcpos, kw.velosys, kw.xref_sci) == ("GR150R", "F150W", 2, 0.25,
                                                                                  1000.0, None)
    prim = fits.Header({"EXP_TYPE": "NRC_TSGRISM", "INSTRUME": "NIRCAM", "FILTER": "F444W", "PUPIL": "GRISMR"})
    kw = grism.GrismKeywords.from_headers(prim, fits.Header({"XREF_SCI": 1008.5, "YREF_SCI": 35.0, "DISPAXIS": 1}))
    assert (kw.grism, kw.band, kw.dispaxis, kw.xref_sci, kw.yref_sci) == ("GRISMR", "F444W", 1, 1008.5, 35.0)
    with pytest.raises(ValueError, match="grism"):
        grism.GrismKeywords.from_headers(fits.Header({"EXP_TYPE": "NRC_IMAGE"}), fits.Header())


def test_real_dhs_specwcs_through_jwst_assign_wcs(tmp_path):
    """The in-flight NRCA1 specwcs through jwst 3.0's AssignWcsStep (NRC_TSGRISM, DHS subarray
    SUB164STRIPE4_DHS, F150W2/GDHS0), on jwst's own mock DHS exposure and REGIONS file (its
    test helpers) with streamcal's synthetic NRCA1 distortion: every sampled pixel's wavelength
    and the trace back to the pixel, per stripe, from streamcal's reading of the same file.

    streamcal builds no DHS WCS itself (the stripe packing is taken from jwst's
    ``substripe_subarray_transforms``); this checks the dispersion, the stripe/field-point
    selection and the barycentric factor.  jwst's DHS transform puts the source at (0, 0)
    in the dispersion model (the trace polynomials carry the absolute position).
    """
    path = extdata("reffiles", "nircam_nrca1_specwcs.asdf")
    pytest.importorskip("jwst")
    helpers = pytest.importorskip("jwst.assign_wcs.tests.helpers")
    from jwst.assign_wcs import AssignWcsStep, util
    from stdatamodels.jwst.datamodels import RegionsModel

    from grismkit import wcs_overrides
    from jwstkit import offline_crds
    from streamcal.detectors import get_detector
    from streamcal.refs import synth_wcs
    from streamcal.refs.asdf_io import write_asdf_reffile

    model = helpers.make_mock_dhs_nrca1_rate()
    regions = helpers.make_mock_dhs_nrca1_regions(model, tmp_path)
    dist = tmp_path / "nrca1_distortion.asdf"
    write_asdf_reffile(synth_wcs.distortion_tree(get_detector("NRCA1"), dist.name, "t"), dist)
    over = wcs_overrides({"distortion": dist, "specwcs": path})
    over["override_regions"] = regions
    with offline_crds(tmp_path / "crds"):
        wcs = AssignWcsStep.call(model, **over).meta.wcs
    to_direct = wcs.get_transform("grism_detector", "direct_image")
    ny, nx = model.data.shape[-2:]
    yy, xx = np.mgrid[0:ny:5, 0:nx:61].astype(float)
    _, _, lam, _, stripe = to_direct(xx, yy, np.ones_like(xx))
    with RegionsModel(regions) as reg:
        to_full = util.substripe_subarray_transforms(model, reg)
    tree = read_asdf_reffile(path).tree
    (field,) = {f for f in tree["fieldpoints"] if f in model.meta.aperture.pps_name}
    factor = 1.0 / (1.0 + model.meta.wcsinfo.velosys / grism.SPEED_OF_LIGHT)
    seen = np.unique(stripe[np.isfinite(stripe)]).astype(int)
    assert list(seen) == [7, 8, 9, 10]
    for s in seen:
        sel = stripe == s
        spec = grism.stripe_specwcs(tree, s, field)
        xf, yf = to_full[s](xx[sel], yy[sel])
        mine = grism.wavelength_at(spec, xf, yf, 0.0, 0.0, 1, dispaxis=1) * factor
        np.testing.assert_allclose(mine, lam[sel], rtol=0, atol=WAVE_TOL)
        # back: wavelength -> dispersed column (jwst's inverse of the stripe packing gives no
        # meaningful row -- its own DHS test checks only x -- so y is not compared)
        wl = np.linspace(np.nanmin(lam[sel]), np.nanmax(lam[sel]), 9)
        jx, _, _ = wcs.get_transform("direct_image", "grism_detector")(
            np.zeros(9), np.zeros(9), wl, np.ones(9), np.full(9, float(s)))
        tx, ty = grism.trace(spec, 0.0, 0.0, wl / factor, 1)
        sx, _ = to_full[s].inverse(tx, ty)
        np.testing.assert_allclose(np.ravel(jx), sx, rtol=0, atol=PIX_TOL)
