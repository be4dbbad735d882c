"""Bad input on the command line: one line naming the file and the problem, exit code != 0,
and no product (nor temporary) left behind.  The real FGS file is the valid base that each
case corrupts in one way."""

import subprocess
import sys

import numpy as np
import pytest
from astropy.io import fits

from streamcal.cli import EXIT_BAD_INPUT, main


def _calibrate(tmp_path, *paths_then_options):
    out = tmp_path / "out"
    code = main(["calibrate", *map(str, paths_then_options), "--out", str(out)])
    return code, out


def _assert_rejected(capsys, tmp_path, path, code, out, words):
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT
    assert len(err) == 1, err
    assert path.name in err[0]
    for word in words:
        assert word in err[0], err[0]
    assert not out.exists() or not any(out.iterdir())


def test_truncated(tmp_path, capsys, fgs_acq1):
    path = tmp_path / "jw_trunc_uncal.fits"
    path.write_bytes(fgs_acq1.read_bytes()[:100_000])
    code, out = _calibrate(tmp_path, path)
    _assert_rejected(capsys, tmp_path, path, code, out, ["truncated"])


def test_not_fits(tmp_path, capsys):
    path = tmp_path / "notes_uncal.fits"
    path.write_text("this is a text file, not FITS\n")
    code, out = _calibrate(tmp_path, path)
    _assert_rejected(capsys, tmp_path, path, code, out, ["not a readable FITS file"])


def test_missing_keywords(tmp_path, capsys, fgs_acq1):
    path = tmp_path / "nokeys_uncal.fits"
    with fits.open(fgs_acq1) as hdul:
        for key in ("EXP_TYPE", "NGROUPS", "TGROUP"):
            del hdul[0].header[key]
        hdul.writeto(path)
    code, out = _calibrate(tmp_path, path)
    _assert_rejected(capsys, tmp_path, path, code, out, ["missing required keywords", "EXP_TYPE", "TGROUP"])


def test_wrong_dimensionality(tmp_path, capsys, fgs_acq1):
    path = tmp_path / "flat_uncal.fits"
    with fits.open(fgs_acq1) as hdul:
        hdul["SCI"] = fits.ImageHDU(np.zeros((2, 128, 128), np.uint16), name="SCI")
        hdul.writeto(path)
    code, out = _calibrate(tmp_path, path)
    _assert_rejected(capsys, tmp_path, path, code, out, ["4-D", "3-D"])


def test_unknown_exp_type(tmp_path, capsys, fgs_acq1):
    path = tmp_path / "bogus_uncal.fits"
    with fits.open(fgs_acq1) as hdul:
        hdul[0].header["EXP_TYPE"] = "FGS_BOGUS"
        hdul.writeto(path)
    code, out = _calibrate(tmp_path, path)
    _assert_rejected(capsys, tmp_path, path, code, out, ["FGS_BOGUS", "routing table"])


def test_bad_usage_is_one_line(tmp_path, capsys, fgs_acq1):
    code, out = _calibrate(tmp_path, fgs_acq1, "--set", "jump.no_such_parameter=1")  # guider has no jump
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT and len(err) == 1 and "jump" in err[0]


def test_good_and_bad_together(tmp_path, capsys, fgs_acq1):
    """A bad file does not stop the good one next to it."""
    bad = tmp_path / "bad_uncal.fits"
    bad.write_text("garbage")
    code, out = _calibrate(tmp_path, bad, fgs_acq1)  # bad first, then the real file
    assert code == EXIT_BAD_INPUT
    assert [p.name for p in out.iterdir()] == ["jw01019001001_gs-acq1_2022117003102_cal.fits"]


def test_console_script_exit_code(tmp_path):
    """The installed entry point: non-zero exit and the one-line reason on stderr."""
    bad = tmp_path / "x_uncal.fits"
    bad.write_text("garbage")
    proc = subprocess.run([sys.executable, "-m", "streamcal", "calibrate", str(bad), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == EXIT_BAD_INPUT
    assert proc.stderr.strip().startswith("streamcal: error:") and "x_uncal.fits" in proc.stderr


def test_a_pipeline_by_its_short_name(tmp_path, capsys, fgs_acq1):
    """--pipeline takes the registry's short names as the TOML does; an unknown one is one line."""
    code, out = _calibrate(tmp_path, fgs_acq1, "--pipeline", "guider")
    assert code == 0 and [p.name for p in out.iterdir()] == ["jw01019001001_gs-acq1_2022117003102_cal.fits"]
    capsys.readouterr()
    code, out = _calibrate(tmp_path / "again", fgs_acq1, "--pipeline", "detector9")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT and len(err) == 1 and "unknown pipeline 'detector9'" in err[0]
