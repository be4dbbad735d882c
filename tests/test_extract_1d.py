"""extract_1d: unit behaviour of the pure functions, and agreement with jwst 3.0's Extract1dStep run
offline on the same MIRI LRS inputs (files written by streamcal.spectra, the same EXTRACT1D JSON
and APCORR files)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from astropy.io import fits

from streamcal import dqflags
from streamcal.spectra import SlitImage, SpectrumMeta, write_slit
from streamcal.steps.extract_1d import (ExtractParams, aperture_params, box_profile, extract_slit,
                                        select_apcorr)

PIXAR_SR = 2.84403609523084e-13
NY, NX = 40, 24  # LRS: dispersion along y (DISPAXIS 2)


# ------------------------------------------------------------------------------ unit tests

def test_partial_pixel_weights():
    """Limits 2.3 .. 5.6 (inclusive indices): pixel 2 gets 0.7, 3..5 get 1, 6 gets 0.6."""
    p = ExtractParams(dispaxis=2, xstart=2.3, xstop=5.6, ystart=0, ystop=3)
    profile, lo, hi = box_profile((4, 9), p, np.ones((4, 9)))
    np.testing.assert_allclose(profile[0], [0, 0, 0.7, 1, 1, 1, 0.6, 0, 0])
    assert (lo, hi) == (2.3, 5.6)


def test_extract_width_centred_and_dispersion_limits():
    p = ExtractParams(dispaxis=1, xstart=1, xstop=6, ystart=2, ystop=6, extract_width=3.5)
    profile, lo, hi = box_profile((9, 8), p, np.ones((9, 8)))
    # centre 4, width 3.5: 2.75 .. 5.25 -> pixel 2: 0.25, 3..5: 1, 6: 0.25; columns 0 and 7 out
    np.testing.assert_allclose(profile[:, 3], [0, 0, 0.25, 1, 1, 1, 0.25, 0, 0])
    assert profile[:, 0].sum() == 0 and profile[:, 7].sum() == 0


def test_aperture_params_matching_and_defaults():
    ref = {"apertures": [{"id": "OTHER", "xstart": 1}, {"id": "MIR_LRS-FIXEDSLIT", "region_type": "target",
                                                       "xstart": 3, "xstop": 8, "bkg_coeff": [[0.5], [2.5]],
                                                       "smoothing_length": 4}]}
    p = aperture_params(ref, slit_name="MIR_LRS-FIXEDSLIT", spectral_order=1, shape=(10, 12),
                        exp_type="MIR_LRS-FIXEDSLIT", dispaxis=2, source_type="POINT")
    assert (p.xstart, p.xstop, p.ystop) == (3.0, 8.0, 9.0)
    assert p.subtract_background and p.bkg_fit == "poly" and p.smoothing_length == 3
    assert p.use_source_posn  # LRS FS point source default
    q = aperture_params(ref, slit_name="MIR_LRS-FIXEDSLIT", spectral_order=1, shape=(10, 12),
                        exp_type="MIR_LRS-FIXEDSLIT", dispaxis=2, source_type="EXTENDED", bkg_fit="mean")
    assert not q.use_source_posn and (q.bkg_fit, q.bkg_order) == ("poly", 0)
    with pytest.raises(LookupError):
        aperture_params(ref, slit_name="S200A1", spectral_order=1, shape=(10, 12), exp_type="NRS_FIXEDSLIT",
                        dispaxis=1)


def test_flat_source_flux_and_units():
    """A uniform 1 MJy/sr image over a 4-pixel aperture: SURF_BRIGHT 1, FLUX 4 Ω 1e6 Jy."""
    data = np.ones((6, 10), np.float32)
    wl = np.tile(np.linspace(5, 10, 6)[:, None], (1, 10))
    p = ExtractParams(dispaxis=2, xstart=3, xstop=6, ystart=0, ystop=5)
    spec = extract_slit(data, None, data * 0.01, data * 0.04, None, wl, p, pixel_solid_angle=PIXAR_SR).spectra[0]
    np.testing.assert_allclose(spec.surf_bright, 1.0)
    np.testing.assert_allclose(spec.flux, 4 * PIXAR_SR * 1e6)
    np.testing.assert_allclose(spec.flux_var_rnoise, 4 * 0.04 * (PIXAR_SR * 1e6) ** 2)
    np.testing.assert_allclose(spec.wavelength, wl[:, 0])
    assert spec.meta.extraction_xstart == 4 and spec.meta.extraction_ystop == 6


def test_dq_and_nan_handling():
    """DO_NOT_USE pixels carry no weight; a row with no valid pixel is NaN flux, DQ DO_NOT_USE;
    rows with NaN wavelength are dropped."""
    data = np.ones((5, 6), np.float32)
    dq = np.zeros((5, 6), np.uint32)
    dq[1, 2] = dqflags.DO_NOT_USE
    data[2, 1:4] = np.nan
    wl = np.tile(np.arange(5.0)[:, None] + 5, (1, 6))
    wl[4] = np.nan
    p = ExtractParams(dispaxis=2, xstart=1, xstop=3, ystart=0, ystop=4)
    spec = extract_slit(data, dq, None, None, None, wl, p, calibrated=False).spectra[0]
    assert spec.size == 4
    np.testing.assert_array_equal(spec.npixels, [3, 2, 0, 3])
    assert np.isnan(spec.flux[2]) and spec.dq[2] == dqflags.DO_NOT_USE and spec.dq[0] == 0
    assert spec.flux[1] == 2.0


def test_calibrated_needs_solid_angle():
    with pytest.raises(ValueError, match="solid angle"):
        extract_slit(np.ones((3, 3)), None, None, None, None, np.ones((3, 3)),
                     ExtractParams(dispaxis=1, xstart=0, xstop=2, ystart=0, ystop=2))


def test_source_position_shifts_aperture():
    """use_source_posn moves the aperture by (source - nominal centre) across the dispersion."""
    data = np.zeros((4, 12), np.float32)
    data[:, 8] = 1.0
    wl = np.tile(np.arange(4.0)[:, None] + 5, (1, 12))
    p = ExtractParams(dispaxis=2, xstart=2, xstop=4, ystart=0, ystop=3, use_source_posn=True)
    ex = extract_slit(data, None, None, None, None, wl, p, calibrated=False, source_location=8.0, middle_pix=2)
    assert (ex.params.xstart, ex.params.xstop) == (7.0, 9.0)
    np.testing.assert_allclose(ex.spectra[0].flux, 1.0)


# ----------------------------------------------------------------------- against jwst 3.0

def lrs_wcs():
    """Detector -> (RA, Dec, λ): a tangent-plane-free linear sky and λ(y) quadratic, NaN outside
    rows 3..36 (the bounding box), like an LRS trace."""
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf
    from gwcs.wcs import WCS
    from astropy import units as u
    from astropy.coordinates import ICRS

    det = cf.Frame2D(name="detector", axes_order=(0, 1), unit=(u.pix, u.pix))
    sky = cf.CelestialFrame(reference_frame=ICRS(), name="sky", axes_order=(0, 1))
    spec = cf.SpectralFrame(name="spectral", axes_order=(2,), unit=(u.micron,), axes_names=("wavelength",))
    world = cf.CompositeFrame([sky, spec], name="world")
    lam = models.Polynomial1D(2, c0=4.5, c1=0.16, c2=0.0012)
    ra = models.Polynomial2D(1, c0_0=80.0, c1_0=3e-5, c0_1=1e-6)
    dec = models.Polynomial2D(1, c0_0=-69.5, c1_0=1e-6, c0_1=3e-5)
    transform = models.Mapping((0, 1, 0, 1, 1)) | ra & dec & lam
    wcs = WCS([(det, transform), (world, None)])
    wcs.bounding_box = ((-0.5, NX - 0.5), (2.5, 36.5))  # gwcs order: x, then y
    return wcs


def wavelength_image(wcs):
    y, x = np.indices((NY, NX), dtype=float)
    return wcs(x, y)[2]


def lrs_header(exp_type: str, nints: int = 1) -> fits.Header:
    return fits.Header({"TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE", "EXP_TYPE": exp_type,
                        "FILTER": "P750L", "SUBARRAY": "FULL" if exp_type.endswith("SLIT") else "SLITLESSPRISM",
                        "READPATT": "FAST", "NINTS": nints, "NGROUPS": 5, "DATE-OBS": "2026-01-01",
                        "TIME-OBS": "00:00:00", "EXPSTART": 61000.0, "EXPMID": 61000.005, "EXPEND": 61000.01,
                        "EFFEXPTM": 100.0, "S_PHOTOM": "COMPLETE", "TSOVISIT": nints > 1,
                        "SRCTYPE": "POINT", "FILENAME": "jw01234001001_01101_00001_mirimage_cal.fits"})


def scene(nints: int, seed: int = 1):
    """A Gaussian trace at x≈11.3 on a sloped background, noise variances, a few bad pixels."""
    rng = np.random.default_rng(seed)
    y, x = np.indices((NY, NX), dtype=float)
    shape = (nints, NY, NX) if nints > 1 else (NY, NX)
    trace = 5.0 * np.exp(-0.5 * ((x - 11.3) / 1.2) ** 2) * (1 + 0.02 * y)
    sky = 0.3 + 0.01 * x + 0.002 * y
    data = (trace + sky + rng.normal(0, 0.02, shape)).astype(np.float32)
    if nints > 1:
        data *= (1 - 0.01 * (np.arange(nints) % 2))[:, None, None].astype(np.float32)
    var_p = np.abs(data) * 1e-3 + 1e-4
    var_r = np.full(shape, 4e-4, np.float32)
    var_f = np.full(shape, 1e-5, np.float32)
    dq = np.zeros(shape, np.uint32)
    dq[..., 20, 11] = dqflags.DO_NOT_USE
    data[..., 25, 12] = np.nan
    return data, dq, var_p.astype(np.float32), var_r, var_f


def write_refs(tmp_path, aperture: dict, exp_type: str, subarray: str):
    ref = {"reftype": "EXTRACT1D", "instrument": "MIRI", "telescope": "JWST", "exp_type": exp_type,
           "apertures": [{"id": exp_type, "region_type": "target", "spectral_order": 1, **aperture}]}
    ext = tmp_path / "extract1d.json"
    ext.write_text(json.dumps(ref))
    from stdatamodels.jwst.datamodels import MirLrsApcorrModel

    wl = np.linspace(4.0, 14.0, 6).astype(np.float32)
    size = np.arange(1, 21, dtype=np.uint8)
    corr = (1.0 + 0.3 / size[None, :] + 0.01 * wl[:, None]).astype(np.float32)
    rows = np.zeros(2, dtype=[("subarray", "S17"), ("wavelength", "f4", (6,)), ("nelem_wl", "i2"),
                              ("size", "u1", (20,)), ("nelem_size", "i2"), ("apcorr", "f4", (6, 20)),
                              ("apcorr_err", "f4", (6, 20))])
    for i, name in enumerate(("FULL", "SLITLESSPRISM")):
        rows[i] = (name, wl, 6, size, 20, corr * (1 + 0.1 * i), corr * 0.01)
    model = MirLrsApcorrModel(apcorr_table=rows)
    model.meta.instrument.name = "MIRI"
    model.meta.reftype = "APCORR"
    model.sizeunit = "pixels"
    path = tmp_path / "apcorr.fits"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.save(path)
    return ext, path, ref


def run_jwst(cal_path, ext, apcorr, tmp_path, **params):
    from jwst.extract_1d import Extract1dStep
    from jwstkit import offline_crds

    with offline_crds(tmp_path / "crds"):
        return Extract1dStep.call(str(cal_path), override_extract1d=str(ext), override_apcorr=str(apcorr),
                                  override_psf="N/A", override_pastasoss="N/A", override_specprofile="N/A",
                                  override_speckernel="N/A", **params)


def ours(data, dq, vp, vr, vf, wl, ref, exp_type, subarray, apcorr_path, source_type="POINT", **overrides):
    params = aperture_params(ref, slit_name=exp_type, spectral_order=1, shape=data.shape, exp_type=exp_type,
                             dispaxis=2, source_type=source_type, **overrides)
    with fits.open(apcorr_path) as hdul:
        ap = select_apcorr(np.array(hdul["APCORR"].data), hdul["APCORR"].header["SIZEUNIT"], "MIRI",
                           {"subarray": subarray})
    return extract_slit(data, dq, vp, vr, vf, wl, params, pixel_solid_angle=PIXAR_SR, source_type=source_type,
                        apcorr=ap, meta=SpectrumMeta(name=exp_type))


def compare(spec, table):
    """FLUX (and the other flux-like columns) within 1e-4 relative: jwst sums float32 pixels
    in float64 as we do, so only the order of summation differs; WAVELENGTH within 1e-6 µm."""
    np.testing.assert_allclose(spec.wavelength, table["WAVELENGTH"], rtol=0, atol=1e-6)
    for name in ("FLUX", "FLUX_ERROR", "SURF_BRIGHT", "BACKGROUND", "FLUX_VAR_POISSON", "FLUX_VAR_RNOISE",
                 "BKGD_ERROR", "NPIXELS"):
        np.testing.assert_allclose(spec.column(name), table[name], rtol=1e-4, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(spec.dq, table["DQ"])


def slit_file(tmp_path, data, dq, vp, vr, vf, wcs, exp_type, nints=1, source_type="POINT"):
    slit = SlitImage(data=data, err=np.sqrt(vp + vr + vf), dq=dq, var_poisson=vp, var_rnoise=vr, var_flat=vf,
                     name=exp_type, source_type=source_type, dispersion_direction=2, wcs=wcs,
                     sci_header=fits.Header({"PIXAR_SR": PIXAR_SR, "PIXAR_A2": 0.0121}))
    header = lrs_header(exp_type, nints)
    header["SRCTYPE"] = source_type
    return write_slit(tmp_path / "lrs_cal.fits", header, slit)


@pytest.mark.parametrize("case", ["plain", "poly_background", "median_background", "extended"])
def test_fixed_slit_matches_jwst(tmp_path, case):
    pytest.importorskip("jwst")
    exp_type = "MIR_LRS-FIXEDSLIT"
    wcs = lrs_wcs()
    data, dq, vp, vr, vf = scene(1)
    aperture = {"xstart": 8.6, "xstop": 14.2, "use_source_posn": False}
    background = case.endswith("background")
    if background:
        aperture.update(bkg_coeff=[[1.5], [5.5], [17.5], [22.5]], bkg_order=1, smoothing_length=3,
                        bkg_fit="poly" if case == "poly_background" else "median")
    srctype = "EXTENDED" if case == "extended" else "POINT"  # extended: no aperture correction
    ext, apcorr, ref = write_refs(tmp_path, aperture, exp_type, "FULL")
    cal = slit_file(tmp_path, data, dq, vp, vr, vf, wcs, exp_type, source_type=srctype)
    result = run_jwst(cal, ext, apcorr, tmp_path)
    table = result.spec[0].spec_table
    ex = ours(data, dq, vp, vr, vf, wavelength_image(wcs), ref, exp_type, "FULL", apcorr, source_type=srctype)
    spec = ex.spectra[0]
    assert spec.size == len(table) == 34
    compare(spec, table)
    jw = result.spec[0]
    assert (spec.meta.extraction_xstart, spec.meta.extraction_xstop) == pytest.approx(
        (jw.extraction_xstart, jw.extraction_xstop))
    assert (spec.meta.extraction_ystart, spec.meta.extraction_ystop) == (jw.extraction_ystart, jw.extraction_ystop)
    if background:
        assert np.all(spec.background > 0.3)


def test_slitless_per_integration_matches_jwst(tmp_path):
    pytest.importorskip("jwst")
    exp_type = "MIR_LRS-SLITLESS"
    wcs = lrs_wcs()
    data, dq, vp, vr, vf = scene(3, seed=4)
    aperture = {"xstart": 9, "xstop": 13.5, "bkg_coeff": [[1.5], [5.5], [17.5], [22.5]], "bkg_order": 0}
    ext, apcorr, ref = write_refs(tmp_path, aperture, exp_type, "SLITLESSPRISM")
    result = run_jwst(slit_file(tmp_path, data, dq, vp, vr, vf, wcs, exp_type, nints=3), ext, apcorr, tmp_path)
    table = result.spec[0].spec_table
    ex = ours(data, dq, vp, vr, vf, wavelength_image(wcs), ref, exp_type, "SLITLESSPRISM", apcorr)
    assert len(ex.spectra) == len(table) == 3
    for i, spec in enumerate(ex.spectra):
        row = {name: np.asarray(table[name][i]) for name in table.dtype.names}
        n = int(row["N_ALONGDISP"])
        compare(spec, {k: (v[:n] if np.ndim(v) else v) for k, v in row.items()})


# --------------------------------------------------------------- synthetic EXTRACT1D (JSON)

def _meta(exp_type, detector="MIRIMAGE", instrument="MIRI", subarray="SLITLESSPRISM"):
    from streamcal.models import ExposureMeta

    h = fits.Header({"INSTRUME": instrument, "DETECTOR": detector, "EXP_TYPE": exp_type, "NINTS": 3, "NGROUPS": 5,
                     "NFRAMES": 1, "GROUPGAP": 0, "TFRAME": 0.159, "TGROUP": 0.159, "READPATT": "FAST",
                     "SUBARRAY": subarray, "SUBSTRT1": 1, "SUBSTRT2": 529, "SUBSIZE1": 72, "SUBSIZE2": 416,
                     "FASTAXIS": 1, "SLOWAXIS": 2, "NOUTPUTS": 1, "FRMDIVSR": 1, "FILTER": "P750L"})
    return ExposureMeta.from_header(h)


def test_synthetic_extract1d_json_is_made_indexed_and_read(tmp_path):
    from streamcal.refs import ReferenceSet
    from streamcal.refs.index import DirectoryIndex
    from streamcal.refs.io import read_reffile

    meta = _meta("MIR_LRS-SLITLESS")
    path = ReferenceSet(cache_dir=tmp_path).select("extract1d", meta)
    assert path is not None and path.suffix == ".json"
    ref = read_reffile(path)
    assert ref.reftype == "extract1d" and ref.header["P_EXP_TY"] == "MIR_LRS-SLITLESS|"
    params = aperture_params(ref.tree, slit_name="MIR_LRS-SLITLESS", spectral_order=1, shape=(416, 72),
                             exp_type="MIR_LRS-SLITLESS", dispaxis=2, source_type="POINT")
    assert (params.xstart, params.xstop) == (34.0, 41.0) and params.subtract_background
    # a directory of real-style files: the JSON is indexed (index.json itself is not) and selected
    keys = DirectoryIndex(tmp_path)
    keys.refresh()
    assert [k.reftype for k in keys.keys() if k.path.endswith(".json")] == ["extract1d"]
    chosen = ReferenceSet(root=tmp_path).select("extract1d", meta)
    assert chosen == path
    assert ReferenceSet(root=tmp_path).select("extract1d", _meta("MIR_LRS-FIXEDSLIT", subarray="FULL")) is None


def test_synthetic_extract1d_grism_families():
    from streamcal.detectors import get_detector
    from streamcal.refs import synth_extract1d as sx

    nrc = get_detector("NRCALONG")
    assert sx.claims("extract1d", nrc, _meta("NRC_TSGRISM", "NRCALONG", "NIRCAM", "SUBGRISM64"))
    assert not sx.claims("extract1d", get_detector("NRCA1"), _meta("NRC_TSGRISM", "NRCA1", "NIRCAM", "SUBGRISM64"))
    doc = json.loads(sx.build("extract1d", nrc, _meta("NRC_TSGRISM", "NRCALONG", "NIRCAM"), "x.json"))
    p = aperture_params(doc, slit_name="NRC_TSGRISM", spectral_order=1, shape=(64, 2048), exp_type="NRC_TSGRISM",
                        dispaxis=1)
    profile, lo, hi = box_profile((64, 2048), p, np.ones((64, 2048)))
    assert (lo, hi) == (27.5, 35.5) and profile[:, 100].sum() == 9.0
    nis = get_detector("NIS")
    assert sx.claims("extract1d", nis, _meta("NIS_WFSS", "NIS", "NIRISS", "FULL"))


def test_wfss_cutouts_match_jwst(tmp_path):
    """NRC_WFSS: a MultiSlitModel of two source cutouts (written by streamcal.spectra) through
    jwst's Extract1dStep (no EXTRACT1D for WFSS: the whole cutout; no aperture correction here)
    and through extract_slit with the default aperture; FLUX to 1e-4 relative (summation order
    only), WAVELENGTH to 1e-6 µm, and the WFSSMultiSpecModel rows, group id and cutouts."""
    pytest.importorskip("jwst")
    from jwst.extract_1d import Extract1dStep
    from jwstkit import offline_crds

    from streamcal.spectra import WFSSSpectra, write_multislit

    rng = np.random.default_rng(7)
    slits, ours = [], []
    for sid, (ny, nx, x0, y0) in enumerate([(9, 40, 101, 201), (11, 55, 301, 401)], start=1):
        y, x = np.indices((ny, nx), dtype=float)
        data = (2.0 * np.exp(-0.5 * ((y - ny / 2) / 1.3) ** 2) + 0.05 + rng.normal(0, 0.01, (ny, nx))).astype(np.float32)
        wl = (3.9 + 0.001 * (x + x0) + 1e-4 * y).astype(np.float32)
        var = np.full((ny, nx), 1e-4, np.float32)
        dq = np.zeros((ny, nx), np.uint32)
        dq[2, 5] = dqflags.DO_NOT_USE
        from astropy.modeling import models
        from gwcs import coordinate_frames as cf
        from gwcs.wcs import WCS

        det = cf.Frame2D(name="grism_detector", axes_order=(0, 1))
        world = cf.CoordinateFrame(naxes=3, axes_type=("SPATIAL", "SPATIAL", "SPECTRAL"), axes_order=(0, 1, 2),
                                   name="world", axes_names=("ra", "dec", "lam"))
        tr = models.Mapping((0, 1, 0)) | (models.Const1D(53.1) & models.Const1D(-27.8) & models.Identity(1))
        slits.append(SlitImage(data=data, err=np.sqrt(var * 2), dq=dq, var_poisson=var, var_rnoise=var,
                               var_flat=np.zeros_like(var), wavelength=wl, name=str(sid), source_id=sid,
                               source_type="POINT", xstart=x0, ystart=y0, xsize=nx, ysize=ny,
                               spectral_order=1, dispersion_direction=1, source_xpos=float(x0 + nx // 2),
                               source_ypos=float(y0 + ny // 2), source_ra=53.1, source_dec=-27.8,
                               sci_header=fits.Header({"PIXAR_SR": 9.3e-14}), wcs=WCS([(det, tr), (world, None)])))
        params = aperture_params(None, slit_name=str(sid), spectral_order=1, shape=data.shape, exp_type="NRC_WFSS",
                                 dispaxis=1, source_type="POINT")
        ours.append(extract_slit(data, dq, var, var, np.zeros_like(var), wl, params, pixel_solid_angle=9.3e-14,
                                 source_type="POINT",
                                 meta=SpectrumMeta(source_id=sid, source_type="POINT", source_xpos=x0 + nx // 2,
                                                   source_ypos=y0 + ny // 2, source_ra=53.1,
                                                   source_dec=-27.8)).spectra[0])
    header = fits.Header({"TELESCOP": "JWST", "INSTRUME": "NIRCAM", "DETECTOR": "NRCALONG", "EXP_TYPE": "NRC_WFSS",
                          "FILTER": "F444W", "PUPIL": "GRISMR", "SUBARRAY": "FULL", "DATE-OBS": "2026-01-01",
                          "TIME-OBS": "00:00:00", "S_PHOTOM": "COMPLETE", "PROGRAM": "01234", "OBSERVTN": "003",
                          "VISIT": "001", "VISITGRP": "02", "SEQ_ID": "1", "ACT_ID": "01", "EXPOSURE": "00001",
                          "EFFEXPTM": 300.0, "EFFINTTM": 300.0, "FILENAME": "w_cal.fits"})
    path = write_multislit(tmp_path / "w_cal.fits", header, slits)
    with offline_crds(tmp_path / "crds"):
        result = Extract1dStep.call(str(path), apply_apcorr=False, override_extract1d="N/A", override_apcorr="N/A",
                                    override_psf="N/A", override_pastasoss="N/A", override_specprofile="N/A",
                                    override_speckernel="N/A")
    table = result.spec[0].spec_table
    assert len(table) == 2
    group = WFSSSpectra.from_spectra(ours, spectral_order=1, group_id=result.spec[0].group_id, filename="w_cal.fits",
                                     dispersion_direction=1, cutouts=[(101, 201, 141, 210), (301, 401, 356, 412)])
    for i, spec in enumerate(ours):
        n = int(table["N_ALONGDISP"][i])
        assert n == spec.size and table["SOURCE_ID"][i] == i + 1
        compare(spec, {k: np.asarray(table[k][i])[:n] for k in table.dtype.names if np.ndim(table[k][i])})
        assert (table["EXTRACT2D_XSTART"][i], table["EXTRACT2D_XSTOP"][i]) == (
            group.extract2d_xstart[i], group.extract2d_xstop[i])
    assert result.spec[0].group_id == "jw01234003001_02101_00001_1"
