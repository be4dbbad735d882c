"""tweakreg against injected truth: images of one star field rendered through WCSs whose
pointing differs from the header's by up to 1 arcsec (plus a small roll), with noise and
cosmic-ray hits; the aligned WCSs must reproduce the true ones."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS as FitsWCS
from photutils.detection import IRAFStarFinder

from streamcal import dqflags
from streamcal.models import ExposureMeta, ImageModel
from streamcal.pipelines.image3 import read_refcat
from streamcal.steps import tweakreg as tw
from streamcal.wcs import Pointing, imaging_wcs

SCALE = 0.0311           # arcsec / pixel
NY, NX = 300, 300
HALF = NX // 2
NOMINAL = Pointing(80.0, -69.5, 86.1, -493.2, 30.0)
COS_DEC = math.cos(math.radians(NOMINAL.dec_ref))
DITHER = [(0.0, 0.0), (1.3, 0.9), (-0.7, 2.1), (2.4, -1.2)]   # arcsec, the commanded offsets
PSF_SIGMA = 1.05         # pixels
NOISE = 1.0              # per pixel, same unit as the image


def _moved(p: Pointing, dx: float, dy: float, droll: float = 0.0) -> Pointing:
    return p.moved(ra_ref=p.ra_ref + dx / 3600 / COS_DEC, dec_ref=p.dec_ref + dy / 3600, roll_ref=p.roll_ref + droll)


def _wcs(p: Pointing, part: str):
    """Full 300x300 detector ('full') or its left/right halves as two 'detectors' sharing one
    V2/V3 frame (the reference point stays at the centre of the full frame)."""
    if part == "full":
        return imaging_wcs(p, shape=(NY, NX), pixel_scale=SCALE, crpix=((NX - 1) / 2, (NY - 1) / 2))
    crpix = ((NX - 1) / 2 - (HALF if part == "right" else 0), (NY - 1) / 2)
    return imaging_wcs(p, shape=(NY, HALF), pixel_scale=SCALE, crpix=crpix)


def _render(wcs, shape, stars, rng) -> np.ndarray:
    ra, dec, flux = stars
    x, y = wcs.invert(ra, dec, with_bounding_box=False)
    image = rng.normal(5.0, NOISE, shape)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    for xi, yi, f in zip(x, y, flux):
        if -8 < xi < shape[1] + 8 and -8 < yi < shape[0] + 8:
            sl = (slice(max(int(yi) - 8, 0), max(int(yi) + 9, 0)), slice(max(int(xi) - 8, 0), max(int(xi) + 9, 0)))
            r2 = (xx[sl] - xi) ** 2 + (yy[sl] - yi) ** 2
            image[sl] += f * np.exp(-r2 / (2 * PSF_SIGMA ** 2)) / (2 * np.pi * PSF_SIGMA ** 2)
    hits = rng.integers(0, [shape[0], shape[1]], (40, 2))     # cosmic rays: single hot pixels
    image[hits[:, 0], hits[:, 1]] += rng.uniform(100, 2000, len(hits))
    return image.astype(np.float32)


def _model(data, wcs, header_pointing: Pointing, exposure: int, detector: str) -> ImageModel:
    name = f"jw01234001001_01101_{exposure:05d}_{detector.lower()}_cal.fits"
    header = fits.Header({"FILENAME": name, "INSTRUME": "NIRCAM", "DETECTOR": detector, "EXP_TYPE": "NRC_IMAGE",
                          "NINTS": 1, "NGROUPS": 5, "NFRAMES": 1, "GROUPGAP": 0, "TFRAME": 10.7, "TGROUP": 10.7,
                          "PROGRAM": "01234", "OBSERVTN": "001", "VISIT": "001", "VISITGRP": "01",
                          "SEQ_ID": "1", "ACT_ID": "01", "EXPOSURE": str(exposure)})
    return ImageModel(meta=ExposureMeta.from_header(header, data.shape), header=header, data=data,
                      err=np.full(data.shape, NOISE, np.float32), dq=np.zeros(data.shape, np.uint32),
                      sci_header=fits.Header(header_pointing.to_cards()), wcs=wcs, bunit="MJy/sr")


def _stars(n: int, seed: int = 11):
    """``n`` stars over the dithered field (420 x 420 px = 13" x 13"): fluxes 300..30000
    (peak S/N 40..4000)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-60, NX + 60, n)
    y = rng.uniform(-60, NY + 60, n)
    ra, dec = _wcs(NOMINAL, "full")(x, y, with_bounding_box=False)
    return np.asarray(ra), np.asarray(dec), 10 ** rng.uniform(2.5, 4.5, n)


@pytest.fixture(scope="module")
def sky():
    """100 stars: ~0.6 per square arcsec.  jwst's defaults drop sources closer than
    ``separation`` = 1" to a neighbour and match within ``tolerance`` = 0.7", so on a field this
    small (9.3" NIRCam SW subarray) 15..30 stars remain to match: enough for minobj = 15 and
    unambiguous (see test_crowded_field_needs_tighter_matching for 200 stars)."""
    return _stars(100)


def _exposures(sky, parts=("full",), seed=5):
    """Per dither position: the header pointing (commanded) and the true one (commanded + an
    error of up to 1 arcsec in a random direction and up to 10 arcsec of roll -- 0.7 mas at the
    corner of the field); one image per detector part, rendered through the truth."""
    rng = np.random.default_rng(seed)
    models, truths = [], []
    for k, (dx, dy) in enumerate(DITHER):
        header_p = _moved(NOMINAL, dx, dy)
        size, angle = rng.uniform(0.3, 1.0), rng.uniform(0, 2 * np.pi)
        true_p = _moved(header_p, size * math.cos(angle), size * math.sin(angle), rng.uniform(-1, 1) / 360)
        for part in parts:
            shape = (NY, NX) if part == "full" else (NY, HALF)
            truth = _wcs(true_p, part)
            data = _render(truth, shape, sky, rng)
            det = {"full": "NRCA1", "left": "NRCA1", "right": "NRCA2"}[part]
            models.append(_model(data, _wcs(header_p, part), header_p, k + 1, det))
            truths.append(truth)
    return models, truths


def _offsets_arcsec(wcs_a, wcs_b, shape) -> np.ndarray:
    """(2, n) sky differences wcs_a - wcs_b, arcsec (RA x cos Dec, Dec), on a 9x9 pixel grid."""
    gx, gy = np.meshgrid(np.linspace(0, shape[1] - 1, 9), np.linspace(0, shape[0] - 1, 9))
    a, b = wcs_a(gx, gy), wcs_b(gx, gy)
    return np.array([(a[0] - b[0]) * 3600 * COS_DEC, (a[1] - b[1]) * 3600]).reshape(2, -1)


def _rms(d: np.ndarray) -> float:
    return float(np.sqrt((d ** 2).sum(axis=0).mean()))


@pytest.fixture(scope="module")
def relative(sky):
    models, truths = _exposures(sky)
    out, report = tw.tweakreg(models, tw.Params())
    return models, truths, out, report


def test_relative_alignment_recovers_injected_offsets(relative):
    """The images end up agreeing with each other: after alignment each image's WCS differs from
    its truth by the same offset as the reference image's (whose own 1" error no relative fit
    can see): residual rms <= 0.02" (measured ~1 mas: ~50 matched stars, centroids ~0.03 px)."""
    models, truths, out, report = relative
    assert report.status == "COMPLETE"
    ref = _offsets_arcsec(out[0].wcs, truths[0], (NY, NX))
    for model, aligned, truth in zip(models, out, truths):
        before = _rms(_offsets_arcsec(model.wcs, truth, (NY, NX)) - ref)
        after = _rms(_offsets_arcsec(aligned.wcs, truth, (NY, NX)) - ref)
        assert after <= 0.02
        assert after < 0.1 * before or before == 0.0
    assert report.note.count("matches") == len(models) - 1 and "REFERENCE" in report.note


def test_aligned_wcs_structure_sip_and_s_region(relative):
    """v2v3corr frame inserted after v2v3vacorr; the SIP header reproduces the corrected gwcs
    to 0.01 px (jwst's sip_max_pix_error); S_REGION written; inputs untouched."""
    models, _, out, _ = relative
    aligned = out[1]
    assert aligned.wcs.available_frames == ["detector", "v2v3", "v2v3vacorr", "v2v3corr", "world"]
    assert "v2v3corr" not in models[1].wcs.available_frames
    assert aligned.data is models[1].data
    fits_wcs = FitsWCS(aligned.sci_header)
    gx, gy = np.meshgrid(np.linspace(0, NX - 1, 7), np.linspace(0, NY - 1, 7))
    ra, dec = aligned.wcs(gx, gy)
    px, py = fits_wcs.all_world2pix(ra, dec, 0)
    assert np.max(np.hypot(px - gx, py - gy)) < 0.01
    assert aligned.sci_header["S_REGION"].startswith("POLYGON ICRS")
    assert "S_REGION" not in models[1].sci_header


def test_detectors_of_one_exposure_share_one_correction(sky):
    """Two detectors per exposure (group_id from the exposure keywords): each pair gets the same
    correction, and every image lands on its truth (relative to the reference group) to 0.02"."""
    models, truths = _exposures(sky, parts=("left", "right"), seed=8)
    assert len({tw.group_id(m) for m in models}) == len(DITHER)
    out, report = tw.tweakreg(models, tw.Params())
    assert report.status == "COMPLETE"
    ref = _offsets_arcsec(out[0].wcs, truths[0], (NY, HALF))
    for aligned, truth in zip(out, truths):
        assert _rms(_offsets_arcsec(aligned.wcs, truth, (NY, HALF)) - ref) <= 0.02
    for k in range(1, len(DITHER)):
        left, right = out[2 * k].wcs, out[2 * k + 1].wcs
        corr_l = left.get_transform("v2v3vacorr", "v2v3corr")
        corr_r = right.get_transform("v2v3vacorr", "v2v3corr")
        assert np.allclose(corr_l(86.1, -493.2), corr_r(86.1, -493.2), atol=1e-9)


def test_absolute_alignment_to_a_user_catalog(sky, tmp_path):
    """With abs_refcat = an ECSV of the true star positions every image lands on its truth
    (absolute, not relative) to 0.02"; the WCS is named FIT-LVL3-<catalog>."""
    models, truths = _exposures(sky, seed=9)
    path = tmp_path / "refcat.ecsv"
    Table({"RA": sky[0], "DEC": sky[1]}).write(path)
    out, report = tw.tweakreg(models, tw.Params(abs_refcat=str(path)), refcat=read_refcat(path))
    assert report.status == "COMPLETE"
    for aligned, truth in zip(out, truths):
        assert _rms(_offsets_arcsec(aligned.wcs, truth, (NY, NX))) <= 0.02
        assert aligned.wcs.name == "FIT-LVL3-refcat.ecsv"
    # one exposure is enough with a reference catalog
    one, report = tw.tweakreg(models[2:3], tw.Params(), refcat=read_refcat(str(path)))
    assert report.status == "COMPLETE"
    assert _rms(_offsets_arcsec(one[0].wcs, truths[2], (NY, NX))) <= 0.02
    # jwst: fewer reference sources than abs_minobj -> the step is skipped, nothing changes
    out, report = tw.tweakreg(models, tw.Params(), refcat=Table({"RA": sky[0][:5], "DEC": sky[1][:5]}))
    assert report.status == "SKIPPED" and "abs_minobj" in report.note
    assert all(a is b for a, b in zip(out, models))


def test_single_exposure_and_too_few_stars_are_skipped(sky):
    """jwst: one group needs an absolute catalog; fewer than minobj matches aligns nothing."""
    models, _ = _exposures(sky)
    out, report = tw.tweakreg(models[:1], tw.Params())
    assert report.status == "SKIPPED" and "at least two exposures" in report.note
    assert out[0] is models[0]
    sparse = (sky[0][:8], sky[1][:8], sky[2][:8])
    few, _ = _exposures(sparse, seed=3)
    out, report = tw.tweakreg(few, tw.Params())
    assert report.status == "SKIPPED"
    assert "not enough matches" in report.note or "non-empty catalogs" in report.note
    assert all(a is b for a, b in zip(out, few))
    assert tw.tweakreg(models, tw.Params(skip=True))[1].status == "SKIPPED"


def test_image_catalog_matches_iraf_starfinder_directly(relative):
    """Yardstick: photutils IRAFStarFinder with the same threshold (10 x rms = 10) on the
    image minus its 5.0 background: the same positions to 0.02 px (our background is estimated);
    DO_NOT_USE pixels are not searched."""
    model = relative[0][1]
    ours = tw.image_catalog(model, tw.Params().finder())
    direct = IRAFStarFinder(10.0, 2.5, sharpness_range=(0.5, 2.0), roundness_range=(0.0, 0.2),
                            min_separation=2, n_brightest=200)(model.data - 5.0)
    assert abs(len(ours) - len(direct)) <= 2
    xy = np.column_stack([direct["x_centroid"], direct["y_centroid"]])
    d = np.hypot(ours["x"][:, None] - xy[None, :, 0], ours["y"][:, None] - xy[None, :, 1]).min(axis=1)
    assert np.median(d) < 0.02
    inside = (ours["x"] > 10) & (ours["x"] < NX - 10) & (ours["y"] > 10) & (ours["y"] < NY - 10)
    star = int(np.argmax(np.where(inside, ours["flux"], -np.inf)))
    dq = model.dq.copy()
    x, y = int(round(ours["x"][star])), int(round(ours["y"][star]))
    dq[y - 4:y + 5, x - 4:x + 5] = dqflags.DQ["DO_NOT_USE"]
    masked = tw.image_catalog(replace(model, dq=dq), tw.Params().finder())
    assert np.min(np.hypot(masked["x"] - ours["x"][star], masked["y"] - ours["y"][star])) > 2


def test_segmentation_starfinder_aligns_too(relative):
    """The segmentation finder (npixels 10 after the kernel_fwhm convolution) also keeps the
    cosmic-ray hits, which then compete in matching: with 0.5" separation / 0.2" tolerance
    two exposures align to 0.02"."""
    models, truths, _, _ = relative
    pair = [models[0], models[2]]
    out, report = tw.tweakreg(pair, tw.Params(starfinder="segmentation", separation=0.5, tolerance=0.2))
    assert report.status == "COMPLETE"
    ref = _offsets_arcsec(out[0].wcs, truths[0], (NY, NX))
    assert _rms(_offsets_arcsec(out[1].wcs, truths[2], (NY, NX)) - ref) <= 0.02


def test_reference_catalog_inputs(tmp_path):
    """RA/DEC in any case, CSV too, or a source_catalog sky_centroid; Gaia names refused; the
    step itself reads no file (abs_refcat without the table is an error)."""
    Table({"ra": [1.0, 2.0], "Dec": [3.0, 4.0]}).write(tmp_path / "c.csv", format="ascii.csv")
    table = read_refcat(str(tmp_path / "c.csv"))
    assert table.colnames == ["RA", "DEC"] and list(table["DEC"]) == [3.0, 4.0]
    from astropy.coordinates import SkyCoord
    Table({"sky_centroid": SkyCoord([10.0], [20.0], unit="deg")}).write(tmp_path / "p_cat.ecsv")
    assert float(read_refcat(str(tmp_path / "p_cat.ecsv"))["RA"][0]) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="offline"):
        read_refcat("GAIADR3")
    with pytest.raises(ValueError, match="no such file"):
        read_refcat(str(tmp_path / "missing.ecsv"))
    Table({"x": [1.0]}).write(tmp_path / "bad.ecsv")
    with pytest.raises(ValueError, match="RA/DEC"):
        read_refcat(str(tmp_path / "bad.ecsv"))
    with pytest.raises(ValueError, match="pass the catalog as refcat"):
        tw.tweakreg([None], tw.Params(abs_refcat=str(tmp_path / "c.csv")))  # refused before any image is looked at


def test_params_and_group_ids():
    with pytest.raises(ValueError, match="sqrt"):
        tw.Params(separation=0.9, tolerance=0.7)
    with pytest.raises(ValueError, match="fitgeometry"):
        tw.Params(fitgeometry="affine")
    header = fits.Header({"FILENAME": "jw01234001001_01101_00002_nrcb3_cal.fits", "INSTRUME": "NIRCAM",
                          "DETECTOR": "NRCB3", "EXP_TYPE": "NRC_IMAGE", "NINTS": 1, "NGROUPS": 1,
                          "NFRAMES": 1, "GROUPGAP": 0, "TFRAME": 1.0, "TGROUP": 1.0})
    model = ImageModel(meta=ExposureMeta.from_header(header, (4, 4)), header=header, data=np.zeros((4, 4)),
                       err=np.zeros((4, 4)), dq=np.zeros((4, 4), np.uint32))
    assert tw.group_id(model) == "jw01234001001_01101_00002"
    header.update({"PROGRAM": "1234", "OBSERVTN": "1", "VISIT": "1", "VISITGRP": "1", "SEQ_ID": "1",
                   "ACT_ID": "1", "EXPOSURE": "2"})
    assert tw.group_id(model) == "jw01234001001_01101_00002"


def test_crowded_field_needs_tighter_matching():
    """200 stars (1.2 per square arcsec): with jwst's 1" separation / 0.7" tolerance sources
    get confused on a 9" field and some fits go astray (measured 0.03-0.09" residuals); with
    separation 0.5" and tolerance 0.2" (still > sqrt(2) x tolerance apart) every image lands
    within 0.02"."""
    crowded = _stars(200)
    models, truths = _exposures(crowded, seed=8)
    out, report = tw.tweakreg(models, tw.Params(separation=0.5, tolerance=0.2))
    assert report.status == "COMPLETE"
    ref = _offsets_arcsec(out[0].wcs, truths[0], (NY, NX))
    for aligned, truth in zip(out, truths):
        assert _rms(_offsets_arcsec(aligned.wcs, truth, (NY, NX)) - ref) <= 0.02


def test_large_corrections_are_taken_for_mismatches(relative):
    """jwst's sanity limit: a fit moving the footprint by >= 2 (searchrad + tolerance) = 5.4"
    is discarded as a mismatch; 0.5" is accepted.  An image without WCS is refused."""
    model = relative[0][1]
    for shift, expected in ((10.0, True), (0.5, False)):
        corrector = tw._corrector(model, Table({"x": [1.0], "y": [1.0]}, meta={"name": "x"}), "g")
        corrector.set_correction(shift=[shift, 0.0])
        assert tw._too_large(corrector, tw.Params(), absolute=False) is expected
    with pytest.raises(ValueError, match="no WCS"):
        tw.tweakreg([replace(model, wcs=None), relative[0][2]], tw.Params())


def test_custom_catalogs_replace_detection(relative):
    """use_custom_catalogs: catalogs made earlier (the stream makes them with each cal) give
    the same alignment as detecting now; column names xcentroid/ycentroid are accepted; without
    the parameter the catalogs are ignored (jwst), and a catalog of too few sources leaves its
    image unaligned."""
    models, _, out, report = relative
    made = {m.meta.filename: tw.image_catalog(m, tw.Params().finder()) for m in models}
    renamed = {k: Table({"xcentroid": t["x"], "ycentroid": t["y"]}) for k, t in made.items()}
    custom, custom_report = tw.tweakreg(models, tw.Params(use_custom_catalogs=True), catalogs=renamed)
    assert custom_report.status == "COMPLETE"
    for a, b in zip(out, custom):
        assert _rms(_offsets_arcsec(a.wcs, b.wcs, (NY, NX))) < 1e-3
    few = dict(made, **{models[1].meta.filename: made[models[1].meta.filename][:3]})
    _, few_report = tw.tweakreg(models, tw.Params(use_custom_catalogs=True), catalogs=few)
    assert f"{models[1].meta.filename}: FAILED: not enough matches" in few_report.note
    _, ignored = tw.tweakreg(models, tw.Params(), catalogs=few)
    assert ignored.note == report.note
    with pytest.raises(ValueError, match="xcentroid"):
        tw.custom_catalog(models[0], Table({"ra": [1.0]}))
