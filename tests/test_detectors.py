"""Detector geometry and timing facts, checked by hand and against real archive headers."""

import numpy as np
import pytest
from astropy.io import fits

from conftest import extdata
from streamcal import detectors as dets
from streamcal.detectors import (DETECTORS, READ_PATTERNS, detector_coordinates, frame_time, get_detector,
                                 get_read_pattern, get_subarray, group_time, nir_frame_time, subarray_names)
from streamcal.steps._common import detector_view


@pytest.mark.parametrize("name", ["NRCA1", "NRCBLONG", "NIS", "NRS1", "GUIDER2"])
def test_nir_full_frame_time(name):
    # ((2048/4 + 12) * (2048 + 1) + 1) * 10 us = 1073677 * 10 us = 10.73677 s
    sub = get_subarray(name, "FULL")
    assert sub.tframe == pytest.approx(10.73677, abs=1e-9)
    assert (sub.subsize1, sub.subsize2, sub.noutputs) == (2048, 2048, 4)


def test_frame_time_formula_by_hand():
    # one output: (nfast + 12) * (nslow + 2) * 10 us
    assert nir_frame_time(64, 64, 1) == pytest.approx(76 * 66 * 1e-5)          # 0.05016 s SUB64P
    assert nir_frame_time(160, 160, 1) == pytest.approx(0.27864)
    with pytest.raises(ValueError):
        nir_frame_time(64, 64, 2)


@pytest.mark.parametrize("det,sub,tframe", [
    ("NRCA1", "SUB400P", 1.65624),       # 412 * 402 * 10 us
    ("NRCALONG", "SUBGRISM64", 0.34061),  # 4 outputs: (524 * 65 + 1) * 10 us
    ("NRCALONG", "SUBGRISM256", 1.34669),
    ("NIS", "SUBSTRIP256", 5.494),        # fast axis is DMS y: (256 + 12) * (2048 + 2) * 10 us (JDox 5.494 s)
    ("NIS", "SUBSTRIP96", 2.214),         # (96 + 12) * 2050 * 10 us (JDox 2.214 s)
    ("NIS", "SUB80", 0.07544),
    ("NRS1", "SUB2048", 0.902),           # (32 + 12) * 2050 * 10 us
    ("NRS1", "SUB32", 0.01496),
    ("MIRIMAGE", "FULL", 2.77504),
    ("MIRIMAGE", "SUB256", 0.29952),
])
def test_subarray_frame_times(det, sub, tframe):
    assert get_subarray(det, sub).tframe == pytest.approx(tframe, abs=1e-5)


def test_grism_one_output_frame_time():
    # one output SUBGRISM256: (2048 + 12) * (256 + 2) * 10 us = 5.3148 s (JDox formula; jwst#3494 says 5.2942)
    assert get_subarray("NRCALONG", "SUBGRISM256", noutputs=1).tframe == pytest.approx(5.3148)


@pytest.mark.parametrize("name", list(DETECTORS))
def test_every_named_subarray_inside_its_frame(name):
    det = get_detector(name)
    for sub_name in subarray_names(det):
        sub = get_subarray(det, sub_name)
        rows, cols = sub.window()
        assert 0 <= rows.start < rows.stop <= det.shape[0]
        assert 0 <= cols.start < cols.stop <= det.shape[1]
        assert sub.tframe > 0 and sub.noutputs in (1, 4)


@pytest.mark.parametrize("path", [
    ("fits", "jw01019001001_gs-acq1_2022117003102_uncal.fits"),
    ("fits_header_only", "fgs_track_guider1.fits"),
    ("fits_header_only", "fgs_fineguide_guider2.fits"),
    ("fits_header_only", "fgs_id-image_guider1.fits"),
    ("fits_header_only", "jw01075001001_03105_00009_nrca2_uncal.fits"),
])
def test_tables_agree_with_real_headers(path):
    """Window, frame time, group time and orientation of real archive exposures."""
    h = fits.getheader(extdata(*path), 0)
    det = get_detector(h["DETECTOR"])
    assert (det.fastaxis, det.slowaxis) == (h["FASTAXIS"], h["SLOWAXIS"])
    sub = get_subarray(det, h["SUBARRAY"])
    assert (sub.substrt1, sub.substrt2, sub.subsize1, sub.subsize2) == \
        (h["SUBSTRT1"], h["SUBSTRT2"], h["SUBSIZE1"], h["SUBSIZE2"])
    assert sub.tframe == pytest.approx(h["TFRAME"], rel=1e-6)
    pattern = get_read_pattern(h["INSTRUME"], h["READPATT"])
    assert (pattern.nframes, pattern.groupgap) == (h["NFRAMES"], h["GROUPGAP"])
    assert group_time(sub.tframe, pattern) == pytest.approx(h["TGROUP"], rel=1e-6)


def test_read_patterns_tgroup():
    # TGROUP = (NFRAMES + GROUPGAP) * TFRAME: DEEP8 = 8 + 12 = 20 frames
    assert group_time(10.73677, READ_PATTERNS["NIRCAM"]["DEEP8"]) == pytest.approx(214.7354)
    assert get_read_pattern("nircam", "shallow4") == dets.ReadPattern("SHALLOW4", 4, 1)
    with pytest.raises(KeyError, match="no readout pattern"):
        get_read_pattern("NIRCAM", "NIS")


def test_miri_slow_is_full_frame_only():
    full = get_subarray("MIRIMAGE", "FULL")
    assert frame_time("MIRIMAGE", full, "SLOWR1") == pytest.approx(23.89)
    assert frame_time("MIRIMAGE", full, "FASTR1") == pytest.approx(2.77504)
    with pytest.raises(ValueError, match="full-frame only"):
        frame_time("MIRIMAGE", get_subarray("MIRIMAGE", "SUB64"), "SLOW")


def test_reference_pixels():
    nir = DETECTORS["NRCA1"].reference_pixel_mask()
    assert nir.sum() == 2048 ** 2 - 2040 ** 2                       # the 4-pixel border
    assert nir[3, 1000] and not nir[4, 1000] and nir[1000, 2044] and not nir[1000, 2043]
    miri = DETECTORS["MIRIMAGE"].reference_pixel_mask()
    assert miri.sum() == 8 * 1024 and miri[:, :4].all() and miri[:, 1028:].all() and not miri[:, 4:1028].any()


def test_unknown_names_and_bad_windows():
    with pytest.raises(KeyError, match="unknown detector"):
        get_detector("NRCC1")
    with pytest.raises(KeyError, match="no subarray"):
        get_subarray("MIRIMAGE", "SUB400P")
    with pytest.raises(ValueError, match="outside"):
        get_subarray("GUIDER1", "128X128", start=(2000, 1))
    moved = get_subarray("GUIDER1", "32X32", start=(5, 7))     # guide windows move freely
    assert moved.window() == (slice(6, 38), slice(4, 36))


def test_amplifier_index():
    assert dets.amplifier_index(np.array([0, 511, 512, 2047]), 4).tolist() == [0, 0, 1, 3]
    assert dets.amplifier_index(np.array([0, 1500]), 1).tolist() == [0, 0]


@pytest.mark.parametrize("name", ["NRCA1", "NRCA2", "NIS", "NRS1", "NRS2", "GUIDER2", "MIRIMAGE"])
def test_detector_coordinates_match_detector_view(name):
    """Independent yardstick: the steps' DMS->detector view of a full frame of DMS indices must
    put every DMS pixel of a window at the detector (row, col) detector_coordinates gives."""
    det = DETECTORS[name]
    ny, nx = det.shape
    dms_index = np.arange(ny * nx, dtype=np.int64).reshape(ny, nx)
    in_detector = detector_view(dms_index, det.fastaxis, det.slowaxis)
    x0, y0, sx, sy = 37, 101, 9, 5                                      # 1-based start, sizes
    det_row, det_col = detector_coordinates(det, x0, y0, sx, sy)
    det_row, det_col = np.broadcast_arrays(det_row, det_col)
    expected = dms_index[y0 - 1:y0 - 1 + sy, x0 - 1:x0 - 1 + sx]
    assert np.array_equal(in_detector[det_row, det_col], expected)
