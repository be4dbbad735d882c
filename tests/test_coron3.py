"""calwebb_coron3 against jwst 3.0's own Coron3Pipeline, run offline on the same ``_calints``
and PSFMASK (tests/jwstkit.py), and against the simulator's truth.

Inputs: a simulated NRC_CORON sequence (a star behind the occulter with a faint companion, and
two PSF-reference exposures of a 1.2x brighter star 0.05/-0.03 px off), 2 integrations of 3
groups each, through streamcal's stage 1 and image2.

Tolerances.  Against jwst: both sides do the same float32 FFTs and the same leastsq, so the
PSF shifts agree to rounding; the checks allow 0.01 px (the brief) and 2 % on the companion's
aperture flux (a different alignment or KL basis moves it by more: one mode more or less
changes it by ~5-10 %).  Against truth: 10 % on the companion flux after KLIP (the injected
e-/s through the gain and PHOTMJSR; the residual halo under the aperture and the gain's pixel
to pixel spread (~5 %) make up the rest).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits

from conftest import extdata
from jwstkit import offline_crds, run_coron3
from streamcal.associations import pool_row
from streamcal.associations.asn import to_dict
from streamcal.associations.generator import Options, generate_pool
from streamcal.fitsio import read_cal, read_mosaic
from streamcal.models import ExposureMeta
from streamcal.pipelines import calibrate_file
from streamcal.pipelines.coron3 import read_coron3_asn, run_coron3 as streamcal_coron3
from streamcal.refs import ReferenceSet
from streamcal.refs.select import best, keys_from_header
from streamcal.sim.coron import read_coron_truth, simulate_coron_sequence
from streamcal.steps import align_refs, klip

#: jwst's pipeline and the stage 1-2 runs of the sequences take a few seconds each
slow = pytest.mark.slow

PRODUCT = "jw01234-o001_t001_nircam_f335m-maskrnd"
SCIENCE = "jw01234001001_02101_00001_nrcalong"


def aperture_flux(image: np.ndarray, x: float, y: float, r: float = 5.0, annulus=(8.0, 12.0)) -> float:
    """Sum within ``r`` px of (x, y) minus the median of the annulus, NaN pixels left out."""
    yy, xx = np.indices(image.shape)
    d = np.hypot(xx - x, yy - y)
    background = np.nanmedian(image[(d >= annulus[0]) & (d < annulus[1])])
    return float(np.nansum(image[d <= r] - background))


def _sequence(base: Path, refs, subarray: str = "SUB320A335R", **kwargs) -> tuple[Path, list[Path]]:
    """Simulated science + 2 PSF exposures -> calints, and their coron3 ASN."""
    sci, psf = simulate_coron_sequence(base / "landing", subarray=subarray, refs=refs, **kwargs)
    calints = []
    for raw in sci + psf:
        rateints = next(p for p in calibrate_file(raw, base / "s1", refs) if p.name.endswith("_rateints.fits"))
        calints += calibrate_file(rateints, base / "s2", refs)
    asn = base / "s2" / "jw01234-o001_coron3_00001_asn.json"
    members = [{"expname": calints[0].name, "exptype": "science"}] + [
        {"expname": c.name, "exptype": "psf"} for c in calints[1:]]
    asn.write_text(json.dumps({"asn_type": "coron3", "asn_id": "o001", "asn_pool": "pool",
                               "products": [{"name": PRODUCT, "members": members}]}))
    return asn, calints


def _run_both(base: Path, asn: Path, refs) -> tuple[Path, Path, list[Path]]:
    written = calibrate_file(asn, base / "streamcal", refs)
    with offline_crds(base / "crds"):
        run_coron3(asn, base / "jwst", refs, psfmask=refs.select("psfmask", read_cal(asn.parent / (
            json.loads(asn.read_text())["products"][0]["members"][0]["expname"])).meta))
    return base / "streamcal", base / "jwst", written


@pytest.fixture(scope="module")
def nircam(tmp_path_factory, refs):
    base = tmp_path_factory.mktemp("coron3")
    asn, calints = _sequence(base, refs)
    ours, theirs, written = _run_both(base, asn, refs)
    return ours, theirs, written, asn, base


def _truth(base: Path):
    return read_coron_truth(base / "landing" / "truth" / f"{SCIENCE}_sources.ecsv")


@slow
def test_products_are_jwsts_and_open_as_its_classes(nircam):
    from stdatamodels.jwst import datamodels

    ours, theirs, written, _, _ = nircam
    assert sorted(p.name for p in written) == sorted(p.name for p in theirs.iterdir() if p.suffix == ".fits")
    kinds = {"psfstack": datamodels.CubeModel, "crfints": datamodels.CubeModel, "psfalign": datamodels.CubeModel,
             "psfsub": datamodels.CubeModel, "i2d": datamodels.ImageModel}
    for path in written:
        suffix = path.stem.rsplit("_", 1)[1]
        with fits.open(theirs / path.name) as official:
            assert official[0].header["DATAMODL"] == kinds[suffix].__name__  # jwst 3.0 writes psfalign as a cube
        with datamodels.open(path) as model:
            assert type(model) is kinds[suffix], path.name
            assert model.meta.filename == path.name


@slow
def test_outlier_flags_and_psf_stack_equal_jwsts(nircam):
    ours, theirs, written, _, _ = nircam
    for path in written:
        if path.stem.endswith(("_crfints", "_psfstack")):
            with fits.open(path) as mine, fits.open(theirs / path.name) as official:
                assert np.array_equal(mine["DQ"].data, official["DQ"].data), path.name
                assert np.array_equal(mine["SCI"].data, official["SCI"].data, equal_nan=True), path.name


@slow
def test_alignment_matches_jwst(nircam, refs):
    """Shifts of every PSF plane within 0.01 px of jwst's (its own functions on its own
    products: it does not store them), and the aligned cubes equal to float32 rounding."""
    from jwst.coron import imageregistration
    from jwst.coron.median_replace_img import median_replace_img
    from stdatamodels.jwst.datamodels import CubeModel

    ours, theirs, _, asn, _ = nircam
    _, science, psfs, _ = read_coron3_asn(asn, [asn.parent])
    result = streamcal_coron3(science, psfs, refs)
    mask = refs.get("psfmask", science[0].meta).arrays["SCI"]
    target = median_replace_img(CubeModel(str(theirs / f"{SCIENCE}_o001_crfints.fits")), 3, 1)
    stack = median_replace_img(CubeModel(str(theirs / f"{PRODUCT}_psfstack.fits")), 3, 1)
    official = imageregistration.align_array(target.data[0], stack.data, mask=mask, return_aligned=False)
    mine = result.science[0].shifts
    assert mine.shape == official.shape == (4, 3)
    assert np.max(np.abs(mine[:, :2] - official[:, :2])) < 0.01
    name = f"{SCIENCE}_o001_psfalign.fits"
    with fits.open(ours / name) as a, fits.open(theirs / name) as b:
        scale = np.nanmax(np.abs(b["SCI"].data))
        assert np.nanmax(np.abs(a["SCI"].data - b["SCI"].data)) <= 1e-5 * scale


@slow
def test_companion_flux_matches_jwst(nircam):
    ours, theirs, _, _, base = nircam
    truth = _truth(base)
    name = f"{SCIENCE}_o001_psfsub.fits"
    mine, official = fits.getdata(ours / name, "SCI"), fits.getdata(theirs / name, "SCI")
    for k in range(mine.shape[0]):
        a = aperture_flux(mine[k], truth.companion_x, truth.companion_y)
        b = aperture_flux(official[k], truth.companion_x, truth.companion_y)
        assert abs(a - b) <= 0.02 * abs(b), (k, a, b)


@slow
def test_companion_flux_after_klip_matches_truth(nircam, refs):
    """The injected e-/s / gain x PHOTMJSR (MJy/sr summed over pixels) within 10 %; and the star
    subtracted: the scatter of the halo (rings 4-8 and 8-30 px from the star, companion masked)
    drops below 1/2 and 3/4 of the calints' (measured 0.37 and 0.58: what is left is the
    photon noise of the science and PSF exposures, which KLIP cannot remove)."""
    ours, _, _, asn, base = nircam
    truth = _truth(base)
    cal = read_cal(asn.parent / f"{SCIENCE}_calints.fits")
    gain = refs.get("gain", cal.meta).arrays["SCI"]
    x, y = int(round(truth.companion_x)), int(round(truth.companion_y))
    expected = truth.companion_flux_e / float(np.median(gain[y - 5:y + 6, x - 5:x + 6])) * cal.sci_header["PHOTMJSR"]
    sub = fits.getdata(ours / f"{SCIENCE}_o001_psfsub.fits", "SCI")
    for plane in sub:
        measured = aperture_flux(plane, truth.companion_x, truth.companion_y)
        assert abs(measured / expected - 1) < 0.10, (measured, expected)
    yy, xx = np.indices(sub.shape[1:])
    d = np.hypot(xx - truth.star_x, yy - truth.star_y)
    away = np.hypot(xx - truth.companion_x, yy - truth.companion_y) > 8
    for (lo, hi), factor in (((4, 8), 0.5), ((8, 30), 0.75)):
        ring = (d > lo) & (d < hi) & away
        assert np.nanstd(sub[0][ring]) < factor * np.nanstd(cal.data[0][ring]), (lo, hi)


@slow
def test_i2d_holds_the_companion(nircam):
    """The combined image: the brightest pixel within 6 px of the companion's predicted
    position (truth pixel -> sky through the calints' WCS -> mosaic pixel) lies within 1.5 px
    of it (the companion's sigma is ~1.2 px; a wrong WCS or a lost integration moves it)."""
    ours, _, _, asn, base = nircam
    truth = _truth(base)
    mosaic = read_mosaic(ours / f"{PRODUCT}_i2d.fits")
    cal = read_cal(asn.parent / f"{SCIENCE}_calints.fits")
    x, y = mosaic.wcs.invert(*cal.wcs(truth.companion_x, truth.companion_y))
    yy, xx = np.indices(mosaic.data.shape)
    near = np.where(np.hypot(xx - x, yy - y) < 6, mosaic.data, -np.inf)
    py, px = np.unravel_index(np.nanargmax(near), near.shape)
    assert np.hypot(px - x, py - y) < 1.5


@slow
def test_association_generator_makes_one_coron3(nircam):
    *_, base = nircam
    rows = [pool_row(fits.getheader(p), p.name.replace("_uncal", "_calints"))
            for p in sorted((base / "landing").glob("*_uncal.fits"))]
    coron = [to_dict(a) for a in generate_pool(rows, Options()) if to_dict(a)["asn_type"] == "coron3"]
    assert len(coron) == 1
    members = {m["expname"].split("_calints")[0]: m["exptype"] for m in coron[0]["products"][0]["members"]}
    assert members == {SCIENCE: "science", "jw01234001001_02101_00002_nrcalong": "psf",
                       "jw01234001001_02101_00003_nrcalong": "psf"}


@slow
def test_float64_fit_moves_off_zero(nircam, refs):
    """jwst's float32 fit barely leaves (0, 0) (align_refs.Params.fit_float64); in float64 the
    same model finds a sub-pixel offset of the PSF star, the same for every PSF plane within
    0.05 px."""
    _, _, _, asn, _ = nircam
    _, science, psfs, _ = read_coron3_asn(asn, [asn.parent])
    stack = replace(psfs[0], data=np.concatenate([p.data for p in psfs]), err=np.concatenate([p.err for p in psfs]),
                    dq=np.concatenate([p.dq for p in psfs]))
    mask = refs.get("psfmask", science[0].meta).arrays["SCI"]
    _, _, as_jwst = align_refs.align_refs(science[0], stack, mask)
    _, _, exact = align_refs.align_refs(science[0], stack, mask, align_refs.Params(fit_float64=True))
    assert np.max(np.abs(as_jwst.shifts[:, :2])) < 0.01
    assert np.min(np.hypot(exact.shifts[:, 0], exact.shifts[:, 1])) > 0.1
    assert np.ptp(exact.shifts[:, 0]) < 0.05 and np.ptp(exact.shifts[:, 1]) < 0.05


@pytest.mark.parametrize("name, subarray", [("jwst_nircam_psfmask_0003.fits", "SUB320ALWB"),
                                            ("jwst_nircam_psfmask_0019.fits", "SUB320A335R")])
def test_real_psfmask_is_selected_for_its_window(name, subarray, refs, tmp_path):
    path = extdata("reffiles", name)
    keys = keys_from_header(str(path), fits.getheader(path))
    sci, _ = simulate_coron_sequence(tmp_path, subarray=subarray, n_psf=0, refs=refs, nints=1, ngroups=2)
    meta = ExposureMeta.from_header(fits.getheader(sci[0]), fits.getdata(sci[0]).shape)
    assert best([keys], "psfmask", meta) == keys
    other = "SUB320A335R" if subarray == "SUB320ALWB" else "SUB320ALWB"
    assert best([keys], "psfmask", replace(meta, subarray=other, substrt1=1, substrt2=1)) is None


@slow
def test_real_psfmask_0003_companion_matches_jwst(refs, tmp_path):
    """SUB320ALWB F335M with the real MASKLWB PSFMASK on both sides (``--override psfmask=``)."""
    real = extdata("reffiles", "jwst_nircam_psfmask_0003.fits")
    overridden = ReferenceSet(overrides={"psfmask": real})
    asn, _ = _sequence(tmp_path, refs, subarray="SUB320ALWB")
    written = calibrate_file(asn, tmp_path / "streamcal", overridden)
    with offline_crds(tmp_path / "crds"):
        run_coron3(asn, tmp_path / "jwst", refs, psfmask=real)
    truth = read_coron_truth(tmp_path / "landing" / "truth" / f"{SCIENCE}_sources.ecsv")
    name = f"{SCIENCE}_o001_psfsub.fits"
    assert any(p.name == name for p in written)
    mine, official = fits.getdata(tmp_path / "streamcal" / name, "SCI"), fits.getdata(tmp_path / "jwst" / name, "SCI")
    for k in range(mine.shape[0]):
        a = aperture_flux(mine[k], truth.companion_x, truth.companion_y)
        b = aperture_flux(official[k], truth.companion_x, truth.companion_y)
        assert abs(a - b) <= 0.02 * abs(b), (k, a, b)


@slow
@pytest.mark.parametrize("exp_type, subarray, filt, real", [
    ("MIR_LYOT", "MASKLYOT", "F2300C", False), ("MIR_LYOT", "MASKLYOT", "F2300C", True),
    ("MIR_4QPM", "MASK1550", "F1550C", False)], ids=["lyot-synthetic", "lyot-psfmask_0009", "4qpm-synthetic"])
def test_miri_sequence_runs_as_jwst(refs, tmp_path, exp_type, subarray, filt, real):
    """MIR_LYOT MASKLYOT F2300C and MIR_4QPM MASK1550 F1550C: image2 makes calints, and coron3's
    psfsub equals jwst's (1e-4 of the peak: float32 rounding of the same algebra), with the
    synthetic PSFMASK and with the real Lyot one (its SUBSTRT2 719 is not the exposures' 717;
    jwst uses the mask whole, so does streamcal)."""
    mask = extdata("reffiles", "jwst_miri_psfmask_0009.fits") if real else None
    asn, calints = _sequence(tmp_path, refs, subarray=subarray, detector="MIRIMAGE", exp_type=exp_type,
                             filter=filt, pupil=None)
    assert all(p.name.endswith("_calints.fits") for p in calints)
    ours = ReferenceSet(overrides={"psfmask": mask}) if real else refs
    calibrate_file(asn, tmp_path / "streamcal", ours)
    with offline_crds(tmp_path / "crds"):
        run_coron3(asn, tmp_path / "jwst", refs, psfmask=mask)
    name = "jw01234001001_02101_00001_mirimage_o001_psfsub.fits"
    mine, official = fits.getdata(tmp_path / "streamcal" / name, "SCI"), fits.getdata(tmp_path / "jwst" / name, "SCI")
    assert np.nanmax(np.abs(mine - official)) <= 1e-4 * np.nanmax(np.abs(official))


@slow
def test_stream_worker_runs_coron3(nircam, refs, tmp_path):
    """The worker's runner (what a Ray worker calls) on the coron3 ASN: OK, jwst's product
    kinds, with a partial association marked as such."""
    from streamcal.actors.worker import run_job
    from streamcal.flow.jobs import Job, StageOptions

    *_, asn, _ = nircam
    job = Job(1, "calwebb_coron3", str(asn), options=StageOptions(allowed_roots=(str(asn.parent),)))
    outcome = run_job(job, str(tmp_path), refs)
    assert outcome.kind.name == "OK", outcome.reason
    assert sorted({p.suffix for p in outcome.products}) == ["crfints", "i2d", "psfalign", "psfstack", "psfsub"]
    with fits.open(next(p.path for p in outcome.products if p.suffix == "i2d")) as hdul:
        assert hdul[0].header["ASNTABLE"] == asn.name and hdul[0].header["ASNPART"] is False


def test_klip_is_jwsts():
    """Random science and refs (5 planes, truncate 3 and 50): data and ERR equal jwst's klip to
    1e-6 relative (the same float64 algebra; eigenvector signs do not matter to a projection)."""
    from jwst.coron.klip import klip as jwst_klip
    from stdatamodels.jwst.datamodels import CubeModel

    rng = np.random.default_rng(3)
    base = rng.normal(size=(12, 14))
    refs = np.stack([base * (1 + 0.1 * k) + 0.05 * rng.normal(size=base.shape) for k in range(5)]).astype(np.float32)
    science = np.stack([1.3 * base + 0.05 * rng.normal(size=base.shape) for _ in range(2)]).astype(np.float32)
    for truncate in (3, 50):
        mine = klip.klip_cube(science, refs, truncate)
        target = CubeModel(data=science.copy(), err=np.zeros_like(science))
        theirs = jwst_klip(target, CubeModel(data=refs.copy()), truncate, return_psf=False)
        scale = np.abs(theirs.data).max()
        assert np.max(np.abs(mine.data - theirs.data)) <= 1e-6 * scale
        assert np.allclose(mine.err, theirs.err, rtol=1e-5, atol=1e-6 * scale)


def test_median_replace_is_jwsts():
    """NaN pixels (with good and bad DQ), DO_NOT_USE pixels, a bad pixel on row 0 (jwst's box is
    empty there: 0) and one in a corner: identical fills."""
    from jwst.coron.median_replace_img import median_replace_img
    from stdatamodels.jwst.datamodels import CubeModel

    rng = np.random.default_rng(5)
    data = rng.normal(10, 1, size=(2, 9, 11)).astype(np.float32)
    dq = np.zeros(data.shape, np.uint32)
    data[0, 4, 5] = np.nan
    data[0, 4, 6] = np.nan
    dq[0, 4, 6] = 1
    dq[1, 0, 3] = 1
    dq[1, 8, 10] = 1
    dq[1, 3, 3:6] = 1
    mine = align_refs.median_replace(data, dq, 3, 1)
    theirs = median_replace_img(CubeModel(data=data.copy(), dq=dq.copy()), 3, 1).data
    assert np.array_equal(mine, theirs) and mine[1, 0, 3] == 0.0


def test_pipeline_refuses_an_association_without_psf_members(tmp_path, refs):
    from streamcal.errors import BadInputError
    from streamcal.pipelines.coron3 import calibrate_coron3_file

    asn = tmp_path / "x_asn.json"
    asn.write_text(json.dumps({"asn_type": "coron3", "asn_id": "o001", "products": [
        {"name": "p", "members": [{"expname": "gone_calints.fits", "exptype": "science"}]}]}))
    with pytest.raises(BadInputError, match="missing"):
        calibrate_coron3_file(asn, tmp_path / "out", refs, allowed_roots=[tmp_path])
    with pytest.raises(ValueError, match="no reference PSF members"):
        streamcal_coron3([object()], [], refs)
