"""The simulator through the distortion: a dithered star field with pointing errors
(simulate_dither), rendered through the same DISTORTION/FILTEROFFSET references and the true
pointing, so that assign_wcs on the header's pointing is off by exactly the recorded error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from photutils.centroids import centroid_2dg

from streamcal.models import ExposureMeta, ImageModel
from streamcal.sim import ExposureConfig, simulate_dither, simulate_exposure
from streamcal.steps import assign_wcs


def model_of(hdul: fits.HDUList) -> ImageModel:
    """An ImageModel with the raw file's headers (assign_wcs needs only those and the shape)."""
    primary, sci = hdul[0].header, hdul["SCI"].header.copy()
    shape = hdul["SCI"].data.shape[-2:]
    meta = ExposureMeta.from_header(primary, hdul["SCI"].data.shape)
    zeros = np.zeros(shape, np.float32)
    return ImageModel(meta, primary, zeros, zeros, np.zeros(shape, np.uint32), sci_header=sci)


def wcs_refs(refs, meta) -> dict:
    return {t: r for t in ("distortion", "filteroffset") if (r := refs.get(t, meta)) is not None}


def predicted_pixels(model: ImageModel, refs, stars: Table, **pointing_cards):
    """Star pixels through the WCS assign_wcs builds from the (possibly corrected) header."""
    model.sci_header.update(pointing_cards)
    model, _ = assign_wcs.run(model, wcs_refs(refs, model.meta), assign_wcs.Params(sip_approx=False))
    return model.wcs.invert(np.asarray(stars["ra"], float), np.asarray(stars["dec"], float),
                            with_bounding_box=False)


@pytest.fixture(scope="module")
def dither(tmp_path_factory, refs):
    out = tmp_path_factory.mktemp("dither")
    return simulate_dither(out, npoints=4, pointing_error_arcsec=1.0, ngroups=6, seed=3, refs=refs)


def test_one_observation_four_dither_positions(dither):
    heads = [fits.getheader(p, 0) for p in dither.paths]
    assert [h["PATT_NUM"] for h in heads] == [1, 2, 3, 4]
    assert {(h["NUMDTHPT"], h["PATTTYPE"], h["OBSERVTN"], h["TARG_RA"], h["FILTER"]) for h in heads} == {
        (4, "4-POINT-BOX", "001", 53.1625, "F200W")}
    # injected errors: 0.25-1 arcsec in position, roll within 0.01 deg (36") per arcsec
    err = np.hypot(dither.pointing["error_east_arcsec"], dither.pointing["error_north_arcsec"])
    assert np.all((err >= 0.25) & (err <= 1.0)) and np.all(np.abs(dither.pointing["error_roll_arcsec"]) <= 36)
    assert len(set(np.round(err, 6))) == 4                          # each exposure its own error
    truth = fits.getheader(dither.paths[0].parent / "truth" / dither.paths[0].name.replace("uncal", "truth"))
    assert truth["PERR_E"] == pytest.approx(dither.pointing["error_east_arcsec"][0])
    assert truth["NCOSMIC"] > 50                                    # 160k px x 10 s x 5e-5


def test_header_wcs_is_off_by_the_recorded_error(dither, refs):
    # assign_wcs on the header pointing misplaces the stars by the error (0.25-1" = 8-32 px);
    # with RA_REF/DEC_REF/ROLL_REF set to the recorded truth it finds them to < 1e-3 px
    # (the distortion files' inverse polynomial)
    for path, row in zip(dither.paths, dither.pointing):
        with fits.open(path) as hdul:
            model = model_of(hdul)
        stars = Table.read(path.parent / "truth" / path.name.replace("uncal.fits", "sources.ecsv"))
        on = (stars["x"] > 0) & (stars["x"] < 399) & (stars["y"] > 0) & (stars["y"] < 399)
        x, y = predicted_pixels(model, refs, stars[on])
        miss = np.hypot(x - stars["x"][on], y - stars["y"][on]) * 0.0311
        total = math.hypot(row["error_east_arcsec"], row["error_north_arcsec"])
        # the roll error adds < 36" x 9" (field radius) = 1.6 mas; the local scale varies ~1 %
        assert np.median(miss) == pytest.approx(total, rel=0.02, abs=0.002)
        x, y = predicted_pixels(model, refs, stars[on], RA_REF=row["true_ra_ref"], DEC_REF=row["true_dec_ref"],
                                ROLL_REF=row["true_roll_ref"])
        assert np.abs(x - stars["x"][on]).max() < 1e-3 and np.abs(y - stars["y"][on]).max() < 1e-3


def test_stars_sit_where_the_truth_says(dither):
    # a centroid (photutils 2-D Gaussian fit) on the noiseless truth image (e-/s: before the
    # per-pixel gain) of isolated bright stars agrees with the truth position to 0.03 px (the
    # image carries the flat field's pixel-to-pixel response, ~1 %: centroids scatter ~0.01 px)
    path = dither.paths[1]
    truth_file = path.parent / "truth" / path.name.replace("uncal", "truth")
    rate = fits.getdata(truth_file, "RATE_E").astype(float)
    stars = Table.read(str(truth_file).replace("truth.fits", "sources.ecsv"))
    bright = stars[(stars["flux_e"] > 3000) & (stars["x"] > 10) & (stars["x"] < 389) & (stars["y"] > 10)
                   & (stars["y"] < 389)]
    checked = 0
    for star in bright:
        d = np.hypot(stars["x"] - star["x"], stars["y"] - star["y"])
        if np.sort(d)[1] < 8:           # a neighbour within 8 px spoils the centroid
            continue
        x0, y0 = int(round(star["x"])), int(round(star["y"]))
        cut = rate[y0 - 5:y0 + 6, x0 - 5:x0 + 6]
        cx, cy = centroid_2dg(cut - np.median(rate))
        assert abs(cx + x0 - 5 - star["x"]) < 0.03 and abs(cy + y0 - 5 - star["y"]) < 0.03
        checked += 1
    assert checked >= 5


def test_enough_bright_stars(dither):
    # S/N in a 3-px-radius aperture (28 px, ~99 % of the PSF): source e- over sqrt(source +
    # 28 x (sky + ramp-fit read noise^2)); NIRCam SW: 22.5 e- CDS noise, 6 groups of 1.656 s
    # (rate noise per pixel sqrt(12 / (N^3 - N)) x 16 e- / 1.656 s), sky 0.25 e-/s
    t, n = 5 * 1.65624, 6
    read = math.sqrt(12 / (n**3 - n)) * 22.5 / math.sqrt(2) / 1.65624 * t
    stars = Table.read(dither.paths[0].parent / "truth" / dither.paths[0].name.replace("uncal.fits", "sources.ecsv"))
    on = (stars["x"] > 3) & (stars["x"] < 396) & (stars["y"] > 3) & (stars["y"] < 396)
    signal = 0.99 * stars["flux_e"][on] * t
    snr = signal / np.sqrt(signal + 28 * (0.25 * t + read**2))
    assert np.sum(snr > 20) >= 50
    assert stars["flux_e"][on].max() < 2.1e4                        # none saturate


@pytest.mark.parametrize("detector,exp_type,subarray,filt,pupil", [
    ("NIS", "NIS_IMAGE", "SUB64", "CLEAR", "F150W"), ("MIRIMAGE", "MIR_IMAGE", "SUB64", "F1130W", None),
    ("GUIDER1", "FGS_IMAGE", "128X128", None, None), ("NRS1", "NRS_TACQ", "SUB32", None, None),
    ("NRCALONG", "NRC_TACQ", "SUB64P", "F444W", "CLEAR")])
def test_every_imager_is_consistent(refs, detector, exp_type, subarray, filt, pupil):
    # one small exposure per imager: assign_wcs on the true pointing puts the sources where
    # the simulator drew them (< 1e-3 px), through each detector's distortion + filter offset
    cfg = ExposureConfig(detector=detector, exp_type=exp_type, subarray=subarray, filter=filt, pupil=pupil,
                         ngroups=2, pointing_error_arcsec=0.5, va_scale=1.00004, seed=5)
    e = simulate_exposure(cfg, refs)
    model = model_of(e.hdul)
    assert model.sci_header["VA_SCALE"] == 1.00004
    cards = {k: v[0] for k, v in e.truth.pointing_cards.items()}
    x, y = predicted_pixels(model, refs, e.truth.sources, RA_REF=cards["TRA_REF"], DEC_REF=cards["TDEC_REF"],
                            ROLL_REF=cards["TROLLREF"])
    assert np.abs(x - e.truth.sources["x"]).max() < 1e-3 and np.abs(y - e.truth.sources["y"]).max() < 1e-3
