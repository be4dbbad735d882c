"""calwebb_image3 against the simulator's truth: a 4-point NIRCam dither (SUB400P, F200W) of a
star field with cosmic rays and pointing errors of up to 1", through detector1 -> image2 ->
image3 (tweakreg, skymatch, outlier_detection, resample, source_catalog).

Yardsticks are the truth files of streamcal.sim.simulate_dither: the true pointing of every
exposure, the star list (RA, Dec, e-/s) and the injected cosmic rays (detector x, y)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
from astropy.io import fits
from astropy.stats import sigma_clipped_stats
from scipy.spatial import cKDTree

from streamcal.detectors import DETECTORS
from streamcal.fitsio import read_raw
from streamcal.pipelines.image2 import run_image2
from streamcal.pipelines.image3 import run_image3
from streamcal.pipelines.runner import CalibrationOptions, run_pipeline
from streamcal.refs import synth_stage2
from streamcal.refs.synth_catalog import effective_sigma_pixels
from streamcal.sim.program import simulate_dither
from streamcal.wcs import pointing_from_header, v2v3_to_sky

DETECTOR = DETECTORS["NRCA1"]
#: Image3 parameters for a 12" NIRCam SW subarray (jwst defaults elsewhere):
#: - tweakreg separation 0.5" / tolerance 0.2": with ~0.8 stars per square arcsec jwst's 1" / 0.7"
#:   lose most sources to the confusion filter (tests/test_step_tweakreg.py shows the failure);
#: - source_catalog npixels 5: NIRCam's 2.4-pixel FWHM puts only ~20 pixels of an S/N 20 star
#:   above 3 sigma after the 2-pixel kernel, and a deblended child needs npixels too (jwst's 25
#:   finds 82 % of the S/N > 20 stars here, 5 finds 97 %).
OPTIONS = CalibrationOptions(step_values={"tweakreg": {"separation": 0.5, "tolerance": 0.2},
                                          "source_catalog": {"npixels": 5}})


def _product(result, suffix: str):
    return next(p.model for p in result.products if p.suffix == suffix)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory, refs):
    out = tmp_path_factory.mktemp("dither")
    sim = simulate_dither(out, seed=1, refs=refs, pointing_error_arcsec=1.0)
    cosmics, inverse_gains = [], []
    for path in sim.paths:
        with fits.open(out / "truth" / path.name.replace("_uncal.fits", "_truth.fits")) as hdul:
            cosmics.append(np.asarray(hdul["COSMICS"].data))
            inverse_gains.append(1.0 / np.asarray(hdul["GAIN"].data, np.float64))
    return sim, cosmics, 1.0 / float(np.mean(inverse_gains))


def _run_chain(simulated, refs, stage1: CalibrationOptions) -> SimpleNamespace:
    sim, cosmics, gain = simulated
    cals = []
    for path in sim.paths:
        rate = _product(run_pipeline(read_raw(path), refs, stage1), "rate")
        cal = _product(run_image2(rate, refs, CalibrationOptions(skip=frozenset({"resample"}))), "cal")
        cals.append(cal)
    return SimpleNamespace(sim=sim, cals=cals, result=run_image3(cals, refs, OPTIONS), cosmics=cosmics, gain=gain)


@pytest.fixture(scope="module")
def chain(simulated, refs):
    """The default pipeline: stage 1 (jump detection included) -> image2 -> image3."""
    return _run_chain(simulated, refs, CalibrationOptions())


def _true_sky(model, row, x, y):
    """Where pixels (x, y) of an exposure truly look: its own detector -> V2/V3 (the distortion,
    shared by simulator and calibration) rotated to the sky with the true pointing."""
    truth = pointing_from_header(model.sci_header).moved(
        ra_ref=float(row["true_ra_ref"]), dec_ref=float(row["true_dec_ref"]), roll_ref=float(row["true_roll_ref"]))
    v2, v3 = model.wcs.get_transform("detector", "v2v3vacorr")(x, y)
    return v2v3_to_sky(truth)(v2, v3)


def _offsets(model, row, x, y) -> np.ndarray:
    """(2, n) WCS(x, y) - truth(x, y), arcsec (RA x cos Dec, Dec)."""
    ra, dec = model.wcs(x, y)
    tra, tdec = _true_sky(model, row, x, y)
    cos_dec = math.cos(math.radians(float(np.mean(dec))))
    return np.array([(ra - tra) * 3600 * cos_dec, (dec - tdec) * 3600])


def _grid(model, n: int = 9):
    ny, nx = model.data.shape
    gx, gy = np.meshgrid(np.linspace(0, nx - 1, n), np.linspace(0, ny - 1, n))
    return gx.ravel(), gy.ravel()


def _relative_rms(offsets: np.ndarray) -> float:
    """rms over images and grid points of each image's offset minus the mean over images."""
    rel = offsets - offsets.mean(axis=0)
    return float(np.sqrt((rel ** 2).sum(axis=1).mean()))


def test_tweakreg_recovers_injected_pointing_offsets(chain):
    """Relative alignment cannot see the common offset (the reference exposure's own error
    stays); what it must recover are the offsets between exposures: after tweakreg every image's
    WCS - truth agrees with the others' to <= 0.02" rms (measured 0.38 mas) where before it
    differed by the injected errors (up to 1": 0.46" rms)."""
    pointing = chain.sim.pointing
    injected = np.hypot(pointing["error_east_arcsec"], pointing["error_north_arcsec"])
    assert 0.3 < injected.max() <= 1.0
    aligned = chain.result.crf            # outlier_detection's outputs carry tweakreg's WCS
    assert [m.meta.filename for m in aligned] == [m.meta.filename for m in chain.cals]
    assert all("v2v3corr" in m.wcs.available_frames for m in aligned[1:])
    x, y = _grid(chain.cals[0])
    before = np.array([_offsets(m, row, x, y) for m, row in zip(chain.cals, pointing)])
    after = np.array([_offsets(m, row, x, y) for m, row in zip(aligned, pointing)])
    print(f"tweakreg: relative offsets rms {_relative_rms(before):.3f}\" before, {_relative_rms(after):.5f}\" after")
    assert _relative_rms(before) > 0.2
    assert _relative_rms(after) <= 0.02


def _stars_in_mosaic(chain):
    """Truth stars as mosaic pixels.  The mosaic frame carries the common offset D = WCS - truth
    (the same for every aligned exposure), so a star's apparent sky position is truth + D."""
    model, row = chain.result.crf[0], chain.sim.pointing[0]
    ny, nx = model.data.shape
    d_east, d_north = _offsets(model, row, np.array([nx / 2]), np.array([ny / 2]))[:, 0] / 3600
    stars = chain.sim.stars
    dec = np.asarray(stars["dec"]) + d_north
    ra = np.asarray(stars["ra"]) + d_east / np.cos(np.radians(dec))
    x, y = chain.result.mosaic.wcs.invert(ra, dec, with_bounding_box=False)
    return np.asarray(x), np.asarray(y)


def _truth_jy(chain) -> np.ndarray:
    """Star fluxes in Jy: e-/s -> DN/s (the detector's true gain in the window) -> MJy/sr
    (PHOTMJSR) -> Jy (x 1e6 x the nominal pixel solid angle); the synthetic PHOTOM is built from
    this very photon budget.  The true gain (harmonic mean of the truth files' GAIN over the
    window, 2.000 e-/DN) is not the nominal 2.05 PHOTOM assumes: the synthetic FLAT does not
    carry the gain map, so every _cal star flux is 2.4 % high before image3 touches it; what
    image3 is judged on is what it makes of the DN it is given."""
    f, p = chain.cals[0].meta.filter, chain.cals[0].meta.pupil
    dn_per_e = 1.0 / chain.gain
    per_e = dn_per_e * synth_stage2.photmjsr(DETECTOR, f, p) * 1e6 * synth_stage2.pixel_area_sr(DETECTOR)
    return np.asarray(chain.sim.stars["flux_e"]) * per_e


def _predicted_snr(chain, x, y, flux_jy) -> np.ndarray:
    """S/N of each star in the 70 % EE aperture: 0.7 F / sqrt(sum of ERR^2 over the aperture)
    (ERR of the i2d, which includes the source's Poisson noise); NaN off the covered area."""
    mosaic, cat = chain.result.mosaic, chain.result.catalog.catalog
    to_jy = 1e6 * float(mosaic.sci_header["PIXAR_SR"])
    ny, nx = mosaic.data.shape
    covered = np.isfinite(mosaic.data) & (mosaic.wht > 0)
    err2 = np.where(covered, mosaic.err.astype(float) * to_jy, np.nan) ** 2
    radius = cat.meta["aperture_params"]["radii"][2]
    snr = np.full(len(x), np.nan)
    for i in np.flatnonzero((x > 5) & (x < nx - 6) & (y > 5) & (y < ny - 6)):
        x0, y0 = int(round(x[i])), int(round(y[i]))
        yy, xx = np.mgrid[y0 - 4:y0 + 5, x0 - 4:x0 + 5]
        inside = (xx - x[i]) ** 2 + (yy - y[i]) ** 2 <= radius ** 2
        values = err2[y0 - 4:y0 + 5, x0 - 4:x0 + 5][inside]
        if covered[y0, x0] and np.all(np.isfinite(values)):
            snr[i] = 0.7 * flux_jy[i] / np.sqrt(values.sum())
    return snr


def test_catalog_completeness_flux_and_purity(chain):
    """Of the stars with S/N > 20 >= 95 % are found (a detection within 1 px; measured 120 of
    125: the misses are faint companions 4-6 px from stars 10-20x brighter, merged by
    deblending); the median aperture-corrected flux / truth is within 2 % (measured +1.1 %);
    <= 1 % of detections have no star within 2 px (measured 0 of 137).  The synthetic APCORR
    models the drizzled Gaussian PSF at a random sub-pixel phase of drizzle (+2/12 px^2); with
    4 exposures the realised blur depends on where the grid's pixels fall on theirs, which
    moves the median ratio by about +-0.8 % (measured 1.6 % from the best to the worst of 16
    half- and quarter-pixel shifts of jwst's grid; the old covering grid sat near the blurred
    end, jwst's near the sharp one)."""
    cat = chain.result.catalog.catalog
    x, y = _stars_in_mosaic(chain)
    flux = _truth_jy(chain)
    snr = _predicted_snr(chain, x, y, flux)
    bright = snr > 20
    assert bright.sum() >= 50
    det = np.column_stack([cat["xcentroid"], cat["ycentroid"]])
    dist, idx = cKDTree(det).query(np.column_stack([x, y]))
    found = bright & (dist < 1.0)
    assert found.sum() >= 0.95 * bright.sum()
    ratio = cat["aper_total_flux"].value[idx[found]] / flux[found]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.02)
    nearest_star, _ = cKDTree(np.column_stack([x, y])).query(det)
    print(f"catalog: {found.sum()}/{bright.sum()} S/N>20 stars found, median flux ratio {np.median(ratio):.4f}, "
          f"{np.sum(nearest_star > 2.0)}/{len(cat)} detections without a star")
    assert np.sum(nearest_star > 2.0) <= 0.01 * len(cat)


#: Hits of different exposures closer than this (mosaic pixels) share output pixels once
#: drizzled (a hit spreads over up to 2 x 2 of them): one spot for the median.
SAME_SPOT = 1.5


def _hits_in_mosaic(chain) -> list[tuple[np.ndarray, np.ndarray]]:
    """Every exposure's injected cosmic rays as mosaic pixels (x, y), through its aligned WCS."""
    out = []
    for aligned, hits in zip(chain.result.crf, chain.cosmics):
        ra, dec = aligned.wcs(hits["x"].astype(float), hits["y"].astype(float))
        out.append(tuple(np.asarray(v) for v in chain.result.mosaic.wcs.invert(ra, dec, with_bounding_box=False)))
    return out


def _exposures_hit_near(hits: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    """For every hit, how many exposures were hit within SAME_SPOT of it (itself included)."""
    trees = [cKDTree(np.column_stack(xy)) for xy in hits]
    counts = []
    for xy in hits:
        points = np.column_stack(xy)
        counts.append(sum((tree.query(points, distance_upper_bound=SAME_SPOT)[0] <= SAME_SPOT).astype(int)
                          for tree in trees))
    return counts


def _worst_cosmic_ray(chain) -> tuple[int, float]:
    """Every injected cosmic ray, mapped through its exposure's aligned WCS into the mosaic:
    (how many were checked, the largest residual there in ERR units).  Residual = the 3x3 mosaic
    pixels minus the sky and the truth stars (drizzled-PSF Gaussians).  Left out: hits on stars
    (star model > 1 ERR there: the model's own error dominates) and spots where more than half
    of the exposures covering them were hit (a median cannot tell those from the sky -- jwst's
    neither): pixels seen by one exposure only, and the rare coincidence of hits of two
    exposures within SAME_SPOT where only 2 or 3 overlap (one such pair here)."""
    mosaic = chain.result.mosaic
    ny, nx = mosaic.data.shape
    sky = sigma_clipped_stats(mosaic.data[np.isfinite(mosaic.data)])[1]
    model = _star_model(chain, (ny, nx))
    significance = (mosaic.data - sky - model) / mosaic.err
    inputs = sum(((plane >> bit) & 1) for plane in mosaic.con for bit in range(32))
    hits = _hits_in_mosaic(chain)
    checked, worst = 0, 0.0
    for (mx, my), hit_here in zip(hits, _exposures_hit_near(hits)):
        for cx, cy, n_hit in zip(np.round(mx).astype(int), np.round(my).astype(int), hit_here):
            if not (1 <= cx < nx - 1 and 1 <= cy < ny - 1) or 2 * n_hit > inputs[cy, cx]:
                continue
            box = (slice(cy - 1, cy + 2), slice(cx - 1, cx + 2))
            if not np.all(np.isfinite(significance[box])) or np.max(model[box] / mosaic.err[box]) > 1:
                continue
            checked += 1
            worst = max(worst, float(np.max(significance[box])))
    return checked, worst


def test_no_cosmic_ray_left_above_5_sigma(chain):
    """The default pipeline: jump detection in stage 1 already removes the hits from the
    ramps; nothing above 5 ERR remains in the mosaic (measured 2.7)."""
    checked, worst = _worst_cosmic_ray(chain)
    print(f"cosmic rays (default pipeline): {checked} checked, worst {worst:.2f} ERR")
    assert checked >= 100        # ~130 hits per exposure, most in the overlap
    assert worst < 5.0


def test_outlier_detection_alone_removes_cosmic_rays(simulated, refs):
    """Stage 1 without jump detection: the hits reach the cal images (up to ~200 ERR in the
    mosaic where one exposure sees them), and outlier_detection flags them (~130 per exposure)
    so that none above 5 ERR remains where fewer than half of the overlapping exposures were
    hit (measured 2.5)."""
    raw = _run_chain(simulated, refs, CalibrationOptions(skip=frozenset({"jump"})))
    od = next(s for s in raw.result.provenance.steps if s.name == "outlier_detection")
    assert od.status == "COMPLETE"
    flagged = [int(v) for v in od.note.split(":")[-1].split(",")]
    assert min(flagged) >= 50, od.note
    checked, worst = _worst_cosmic_ray(raw)
    print(f"cosmic rays (no jump step): {od.note}; {checked} checked, worst {worst:.2f} ERR")
    assert checked >= 100
    assert worst < 5.0


def _star_model(chain, shape) -> np.ndarray:
    """Truth stars rendered into the mosaic (MJy/sr): circular Gaussians of the drizzled PSF
    (sigma^2 + 3/12 px^2: detector pixel and drizzle), total flux from the photon budget."""
    x, y = _stars_in_mosaic(chain)
    to_jy = 1e6 * float(chain.result.mosaic.sci_header["PIXAR_SR"])
    flux = _truth_jy(chain) / to_jy           # MJy/sr x pixel
    sigma = math.sqrt(effective_sigma_pixels(DETECTOR, 2.0) ** 2 - 1 / 12)
    image = np.zeros(shape)
    for xi, yi, f in zip(x, y, flux):
        x0, y0 = int(round(xi)), int(round(yi))
        ys, xs = slice(max(y0 - 8, 0), min(y0 + 9, shape[0])), slice(max(x0 - 8, 0), min(x0 + 9, shape[1]))
        if ys.start >= ys.stop or xs.start >= xs.stop:
            continue                          # star off the mosaic
        yy, xx = np.mgrid[ys, xs]
        image[ys, xs] += f * np.exp(-((xx - xi) ** 2 + (yy - yi) ** 2) / (2 * sigma ** 2)) / (2 * np.pi * sigma ** 2)
    return image
