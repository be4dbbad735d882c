"""The raw-exposure simulator: file layout and keywords, consistency with the reference set,
truth, every routed EXP_TYPE."""

import doctest
import math
import re

import numpy as np
import pytest
from astropy.io import fits

from conftest import extdata
from streamcal import router, sim
from streamcal.fitsio import read_raw
from streamcal.sim import config as simconfig
from streamcal.sim import electronics, headers, scene
from streamcal.sim import ExposureConfig, simulate_exposure

UNCAL_NAME = re.compile(r"^jw\d{5}\d{3}\d{3}_\d{2}\d[0-9a-z]{2}_\d{5}_[a-z0-9]+_uncal\.fits$")
REQUIRED = ("TELESCOP INSTRUME DETECTOR MODULE CHANNEL FILTER PUPIL EXP_TYPE READPATT NINTS NGROUPS NFRAMES "
            "GROUPGAP FRMDIVSR TFRAME TGROUP EFFINTTM EFFEXPTM DURATION XPOSURE EXPSTART EXPMID EXPEND DATE-OBS "
            "SUBARRAY SUBSTRT1 SUBSTRT2 SUBSIZE1 SUBSIZE2 FASTAXIS SLOWAXIS NOUTPUTS PROGRAM OBSERVTN VISIT "
            "VISITGRP SEQ_ID ACT_ID EXPOSURE OBS_ID VISIT_ID TSOVISIT TARGNAME TARG_RA TARG_DEC PATTTYPE PATT_NUM "
            "NUMDTHPT XOFFSET YOFFSET FILENAME DATAMODL ZEROFRAM").split()


@pytest.mark.parametrize("module", [electronics, scene, headers, simconfig])
def test_docstring_examples(module):
    assert doctest.testmod(module).failed == 0


def test_file_layout_and_keywords(tmp_path, refs):
    cfg = ExposureConfig(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P", readpatt="MEDIUM8",
                         ngroups=2, nints=2, seed=1)
    path = simulate_exposure(cfg, refs).write(tmp_path)
    assert UNCAL_NAME.match(path.name), path.name
    with fits.open(path, do_not_scale_image_data=True) as hdul:
        h = hdul[0].header
        assert [x.name for x in hdul] == ["PRIMARY", "SCI", "GROUP", "INT_TIMES"]
        for key in REQUIRED:
            assert key in h, key
        assert h["FILENAME"] == path.name and h["DATAMODL"] == "Level1bModel"
        # MEDIUM8: 8 frames averaged + 2 dropped: TGROUP = (8 + 2) * TFRAME
        assert (h["NFRAMES"], h["GROUPGAP"]) == (8, 2)
        assert h["TGROUP"] == pytest.approx((h["NFRAMES"] + h["GROUPGAP"]) * h["TFRAME"])
        assert h["TFRAME"] == pytest.approx(0.05016)
        assert h["EFFINTTM"] == pytest.approx((2 - 1) * h["TGROUP"] + 8 * h["TFRAME"])
        assert h["EXPEND"] > h["EXPMID"] > h["EXPSTART"]
        sci = hdul["SCI"]
        assert sci.header["BITPIX"] == 16 and sci.header["BZERO"] == 32768   # uint16 as the archive stores it
        assert sci.data.shape == (2, 2, 64, 64)
        for key in ("RA_REF", "DEC_REF", "ROLL_REF", "V2_REF", "V3_REF", "CRPIX1", "CTYPE1", "BUNIT"):
            assert key in sci.header, key
        assert len(hdul["GROUP"].data) == 4 and "group_end_time" in hdul["GROUP"].columns.names
        assert hdul["INT_TIMES"].columns.names[:2] == ["integration_number", "int_start_MJD_UTC"]
        assert len(hdul["INT_TIMES"].columns) == 7
    ramp = read_raw(path)
    assert ramp.data.shape == (2, 2, 64, 64) and ramp.data.min() >= 0 and ramp.data.max() <= 65535
    m = ramp.meta
    assert (m.detector, m.subarray, m.nframes, m.groupgap, m.noutputs) == ("NRCA1", "SUB64P", 8, 2, 1)
    assert (tmp_path / "truth" / path.name.replace("_uncal.fits", "_truth.fits")).is_file()
    assert (tmp_path / "truth" / path.name.replace("_uncal.fits", "_sources.ecsv")).is_file()


def test_guider_acq1_looks_like_the_real_one(refs):
    real = fits.getheader(extdata("fits", "jw01019001001_gs-acq1_2022117003102_uncal.fits"), 0)
    s = simulate_exposure(ExposureConfig(detector="GUIDER2", exp_type="FGS_ACQ1", nints=6, ngroups=2), refs)
    h = s.hdul[0].header
    for key in ("SUBARRAY", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2", "READPATT", "NFRAMES", "GROUPGAP",
                "FASTAXIS", "SLOWAXIS"):
        assert h[key] == real[key], key
    assert h["TFRAME"] == pytest.approx(real["TFRAME"]) and h["TGROUP"] == pytest.approx(real["TGROUP"])
    assert re.match(r"^jw01234001001_gs-acq1_\d{13}_uncal\.fits$", s.filename)
    assert s.hdul["SCI"].data.shape == (6, 2, 128, 128)


@pytest.mark.parametrize("detector,exp_type,real", [
    ("GUIDER2", "FGS_ACQ1", ("fits", "jw01019001001_gs-acq1_2022117003102_uncal.fits")),
    ("GUIDER1", "FGS_ID-IMAGE", ("fits_header_only", "fgs_id-image_guider1.fits")),
    ("NRCA2", "NRC_IMAGE", ("fits_header_only", "jw01075001001_03105_00009_nrca2_uncal.fits")),
    ("MIRIMAGE", "MIR_IMAGE", ("fits", "jw01288015001_04101_00001_mirimage_i2d.fits"))])
def test_optical_path_keywords_as_in_the_archive(refs, detector, exp_type, real):
    """MODULE/CHANNEL/FILTER/PUPIL are present exactly where the archive's files of the same
    instrument have them (FGS: none; MIRI imager: FILTER only; NIRCam: all four), so no
    'N/A' MODULE, which jwst's schema rejects."""
    header = fits.getheader(extdata(*real), 0)
    sim_header = simulate_exposure(ExposureConfig(detector=detector, exp_type=exp_type, ngroups=2, nints=1,
                                                  subarray={"GUIDER1": "2048X64", "GUIDER2": "128X128",
                                                            "NRCA2": "SUB64P", "MIRIMAGE": "SUB64"}[detector]),
                                   refs).hdul[0].header
    for key in ("MODULE", "CHANNEL", "FILTER", "PUPIL"):
        assert (key in sim_header) == (key in header), key


def _linearized(e, refs):
    """Raw ramps of integration 0 -> superbias-subtracted (NIR) or reset-subtracted (MIRI),
    linearized DN, using the reference files' own arrays (the pipeline's view)."""
    m = e.meta
    raw = e.hdul["SCI"].data[0].astype(np.float64)
    if m.instrument == "MIRI":
        reset = refs.get("reset", m).arrays["SCI"]
        n = min(reset.shape[1], raw.shape[0])
        raw[:n] -= reset[0, :n]
    else:
        raw -= refs.get("superbias", m).arrays["SCI"]
    c = refs.get("linearity", m).arrays["COEFFS"].astype(np.float64)
    bad = np.isnan(c).any(axis=0)
    c[:, bad] = 0.0
    c[1, bad] = 1.0
    return sum(c[k] * raw ** k for k in range(c.shape[0]))


@pytest.mark.parametrize("detector,exp_type,subarray", [("NRCA1", "NRC_IMAGE", "SUB160P"),
                                                        ("MIRIMAGE", "MIR_IMAGE", "SUB128")])
def test_truth_consistent_with_reference_files(refs, detector, exp_type, subarray):
    """After undoing bias (or reset) and non-linearity with the reference files' arrays, the
    first-to-last group difference / time equals truth rate + dark within the noise.

    Noise of that two-point slope: sqrt(2 rn_read^2 + (rate + dark) T / g) / T with rn_read =
    CDS / sqrt(2) (DN), T = (ngroups - 1) TGROUP.  25600 (17408) pixels: the mean of z has
    sigma ~0.007, so |mean| < 0.04 is > 5 sigma; the std of z has sigma ~0.005 (plus the
    uint16 rounding, 1/12 DN^2): 0.97-1.03."""
    ng = 6
    e = simulate_exposure(ExposureConfig(detector=detector, exp_type=exp_type, subarray=subarray, ngroups=ng,
                                         bias_drift=False, cosmic_ray_rate=0.0, seed=3), refs)
    m = e.meta
    lin = _linearized(e, refs)
    T = (ng - 1) * m.tgroup
    slope = (lin[-1] - lin[0]) / T
    expected = e.truth.rate_dn + e.truth.dark_dn
    rn = refs.get("readnoise", m).arrays["SCI"] / math.sqrt(2.0)
    sigma = np.sqrt(2 * rn ** 2 + expected * T / e.truth.gain) / T
    z = (slope - expected) / sigma
    ok = e.truth.first_saturated[0] < 0
    assert ok.mean() > 0.99
    assert abs(z[ok].mean()) < 0.04 and 0.97 < z[ok].std() < 1.03


def test_reference_pixels_get_no_signal(refs):
    """A lamp flat: light-sensitive pixels ramp up, the reference border does not."""
    e = simulate_exposure(ExposureConfig(detector="NRCA1", exp_type="NRC_FLAT", subarray="SUB64P", ngroups=4,
                                         bias_drift=False, cosmic_ray_rate=0.0), refs)
    data = e.hdul["SCI"].data[0].astype(np.float64)
    diff = data[-1] - data[0]
    ref = refs.get("mask", e.meta).arrays["DQ"] >= 2 ** 31
    assert ref.sum() == 64 * 4 * 2 - 16                                 # SUB64P: two border edges
    light = ~ref & (e.truth.rate_dn > 0)
    assert np.median(diff[light]) > 20 * 3 * 0.05016 * 4 * 0.9          # ~200 e-/s over 3 groups
    assert abs(np.median(diff[ref])) < 2.0 and np.all(e.truth.rate_dn[ref] == 0)


def test_bias_drift_follows_amplifiers_and_is_removable():
    """Drift planes: one value per (amplifier, column parity) plus a row term; four-output
    windows see four amplifiers along the detector columns (NRCA1: reversed DMS x)."""
    from streamcal.detectors import DETECTORS

    drift = electronics.BiasDrift(DETECTORS["NRCA1"], (1, 1, 2048, 8), 4, np.random.default_rng(0), row_noise=0.0)
    plane = np.broadcast_to(drift.plane(), (8, 2048))
    assert np.unique(plane).size == 8
    # DMS x = 0 is detector column 2047 (amp 4, odd); x = 1536 is column 511 (amp 1, odd)
    assert plane[0, 0] == plane[5, 2] and plane[0, 0] != plane[0, 1] and plane[0, 0] != plane[0, 1536]


def test_saturation_consistent_with_reference(refs):
    """A very bright target saturates: raw values stop at the threshold + headroom and the
    truth's first saturated group marks exactly the pixels at or above the threshold."""
    e = simulate_exposure(ExposureConfig(detector="NRCA1", exp_type="NRC_TSIMAGE", subarray="SUB64P", ngroups=5,
                                         target_flux_e=5e7, bias_drift=False, cosmic_ray_rate=0.0), refs)
    raw = e.hdul["SCI"].data[0].astype(np.float64)
    thresh = refs.get("saturation", e.meta).arrays["SCI"]
    first = e.truth.first_saturated[0]
    assert (first == 0).sum() > 3                                       # the core saturates at once
    assert np.all(raw[:, first == 0] >= thresh[first == 0])
    sat_any = (raw >= np.where(np.isnan(thresh), np.inf, thresh)).any(axis=0)
    assert np.array_equal(sat_any, first >= 0)
    assert np.nanmax(raw - thresh) <= electronics.SATURATION_HEADROOM_DN + 0.5


def test_cosmic_rays_recorded(refs):
    e = simulate_exposure(ExposureConfig(detector="NRCA1", subarray="SUB160P", ngroups=5, cosmic_ray_rate=2e-3,
                                         seed=5), refs)
    # expected hits: rate * npix * frames read * tframe = 2e-3 * 25600 * 5 * 0.27864 = 71
    n = len(e.truth.cosmic_rays)
    assert 71 - 5 * math.sqrt(71) < n < 71 + 5 * math.sqrt(71)
    assert e.truth.jump_groups.shape == (1, 5, 160, 160) and e.truth.jump_groups.sum() > 0
    hdul = e.truth.to_hdulist(e.filename, 1, 0)
    assert len(hdul["COSMICS"].data) == n and hdul["RATE"].header["BUNIT"] == "DN/s"


def test_dithered_exposures_see_the_same_sky(tmp_path, refs):
    paths = sim.simulate_to_directory(tmp_path, detector="NRCA1", subarray="SUB160P", ngroups=2,
                                      n_exposures=2, refs=refs)
    tables = [fits.getdata(tmp_path / "truth" / p.name.replace("_uncal.fits", "_truth.fits"), "SOURCES")
              for p in paths]
    headers_ = [fits.getheader(p, 0) for p in paths]
    assert [h["PATT_NUM"] for h in headers_] == [1, 2] and headers_[0]["NUMDTHPT"] == 2
    a, b = tables
    assert np.allclose(a["ra"], b["ra"]) and np.allclose(a["dec"], b["dec"])
    scale = 0.0311
    dx = (headers_[1]["XOFFSET"] - headers_[0]["XOFFSET"]) / scale
    dy = (headers_[1]["YOFFSET"] - headers_[0]["YOFFSET"]) / scale
    target = a["kind"] == "target"
    assert b["x"][target][0] - a["x"][target][0] == pytest.approx(dx, abs=0.01)
    assert b["y"][target][0] - a["y"][target][0] == pytest.approx(dy, abs=0.01)


def test_deterministic(refs):
    cfg = ExposureConfig(detector="NIS", exp_type="NIS_IMAGE", subarray="SUB64", ngroups=3, seed=7)
    a, b = simulate_exposure(cfg, refs), simulate_exposure(cfg, refs)
    assert np.array_equal(a.hdul["SCI"].data, b.hdul["SCI"].data)


_SMALL = {"NIRCAM": ("NRCA1", "SUB64P"), "NIRISS": ("NIS", "SUB64"), "NIRSPEC": ("NRS1", "SUB32"),
          "MIRI": ("MIRIMAGE", "SUB64"), "FGS": ("GUIDER1", "32X32")}
_PREFIX = {"NRC": "NIRCAM", "NIS": "NIRISS", "NRS": "NIRSPEC", "MIR": "MIRI", "FGS": "FGS"}


@pytest.mark.parametrize("exp_type", sorted(router.TABLE))
def test_every_routed_exp_type(refs, exp_type):
    """Every EXP_TYPE of the routing table simulates (on a small window), reads back and routes."""
    detector, subarray = _SMALL[_PREFIX[exp_type.split("_")[0]]]
    e = simulate_exposure(ExposureConfig(detector=detector, exp_type=exp_type, subarray=subarray, ngroups=2,
                                         nints=1), refs)
    h = e.hdul[0].header
    assert h["EXP_TYPE"] == exp_type
    assert router.route(h).exp_type == exp_type
    assert h["TSOVISIT"] == (router.route(h).stage1 == router.TSO1)
    kind = simconfig.exposure_kind(exp_type)
    if kind == "dark":
        assert not e.truth.rate_dn.any()
    elif kind in ("image", "lamp", "dispersed"):
        assert e.truth.rate_dn.max() > 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(exp_type="NRC_NOPE"), "not in the routing table"),
    (dict(exp_type="MIR_IMAGE"), "not an exposure type of NIRCAM"),
    (dict(subarray="SUB256"), "no subarray"),
    (dict(readpatt="FASTR1"), "no readout pattern"),
    (dict(ngroups=0), "ngroups"),
])
def test_bad_configs(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simconfig.resolve(ExposureConfig(**kwargs))


def test_scene_rendering_conserves_flux():
    wcs = scene.tan_wcs(10.0, -20.0, 30.0, 0.1, (50.5, 50.5))
    cat = scene.make_catalog(wcs, (100, 100), 0.1, np.random.default_rng(0), stars_per_arcmin2=0,
                             galaxies_per_arcmin2=0, target_flux_e=1000.0)
    x, y = scene.source_pixels(cat, wcs)
    assert (x[0], y[0]) == pytest.approx((49.5, 49.5))                   # target at CRPIX (1-based)
    image = scene.render_sources(cat, x, y, (100, 100), 1.5, 0.1)
    assert image.sum() == pytest.approx(1000.0, rel=1e-6)
    # one pixel along +y is 0.1" on the sky
    (ra0, dec0), (ra1, dec1) = wcs.all_pix2world([[50, 50], [50, 51]], 0)
    sep = math.hypot((ra1 - ra0) * math.cos(math.radians(dec0)), dec1 - dec0) * 3600
    assert sep == pytest.approx(0.1, rel=1e-4)


def test_raw_from_linear_inverts_the_correction():
    rng = np.random.default_rng(0)
    coeffs = np.zeros((4, 50, 50), np.float32)
    coeffs[1] = 1
    coeffs[2] = rng.uniform(5e-7, 7e-7, (50, 50))
    coeffs[3] = rng.uniform(5e-12, 7e-12, (50, 50))
    coeffs[:, 0, 0] = np.nan                                             # NO_LIN_CORR: left linear
    lin = rng.uniform(-50, 60000, (50, 50))
    raw = electronics.raw_from_linear(lin, coeffs)
    c = coeffs.astype(np.float64)
    forward = c[0] + c[1] * raw + c[2] * raw ** 2 + c[3] * raw ** 3
    forward[0, 0] = raw[0, 0]
    assert np.max(np.abs(forward - lin)) < 1e-6 and raw[0, 0] == lin[0, 0]
    bright = lin > 1000
    bright[0, 0] = False
    assert np.all(raw[bright] < lin[bright])                             # raw response is sub-linear


def test_one_over_f_noise():
    series = electronics.one_over_f(2048, 2.0, np.random.default_rng(0))
    assert series.std() == pytest.approx(2.0) and abs(series.mean()) < 1e-9
    power = np.abs(np.fft.rfft(series)) ** 2
    assert power[1:10].mean() > 10 * power[-100:].mean()                # red spectrum


def test_filter_wavelength_and_sky():
    assert scene.filter_wavelength_um("F200W", "NIRCAM") == 2.0
    assert scene.filter_wavelength_um("F1130W", "MIRI") == pytest.approx(11.3)
    assert scene.filter_wavelength_um("CLEAR", "MIRI") == 7.7                # no digits: typical value
    assert scene.sky_rate_e("MIRI", 15.4) == pytest.approx(8 * scene.sky_rate_e("MIRI", 7.7))  # thermal ~ lambda^3


def test_traces_and_lamp():
    wcs = scene.tan_wcs(0.0, 0.0, 0.0, 0.1, (32.5, 16.5))
    cat = scene.make_catalog(wcs, (32, 64), 0.1, np.random.default_rng(1), stars_per_arcmin2=0,
                             galaxies_per_arcmin2=0, target_flux_e=600.0)
    x, y = scene.source_pixels(cat, wcs)
    trace = scene.render_traces(cat, x, y, (32, 64), 1.0, axis=1, length=20)
    # 600 e-/s spread over 20 columns (21..41) around x = 31.5, Gaussian across rows
    assert trace.sum() == pytest.approx(600.0, rel=1e-3)
    assert np.count_nonzero(trace.sum(axis=0)) == 20 and trace[:, 31].argmax() == 15
    lamp = scene.lamp_illumination((10, 10), 200.0, np.random.default_rng(0))
    assert lamp.mean() == pytest.approx(200.0, rel=0.01) and lamp.std() < 0.1 * 200
