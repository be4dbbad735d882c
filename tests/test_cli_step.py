"""``streamcal step STEP INPUT --out DIR``: one step on one file, as jwst's strun."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from streamcal import dqflags
from streamcal.cli import EXIT_BAD_INPUT, EXIT_OK, main
from streamcal.sim import simulate_to_directory


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    out = tmp_path_factory.mktemp("raw")
    return simulate_to_directory(out, detector="NRCA1", subarray="SUB64P", ngroups=5, seed=3)[0]


def _step(capsys, *argv) -> tuple[int, list[str]]:
    code = main(["step", *map(str, argv)])
    out = capsys.readouterr().out.split()
    return code, out


def test_a_ramp_step_writes_its_output_named_after_the_step(raw, tmp_path, capsys):
    code, out = _step(capsys, "dq_init", raw, "--out", tmp_path)
    assert code == EXIT_OK
    assert [p.split("/")[-1] for p in out] == [raw.name.replace("_uncal", "_dq_init")]
    with fits.open(out[0]) as hdul:
        pixeldq = hdul["PIXELDQ"].data
        assert hdul["SCI"].data.ndim == 4
    # the synthetic mask flags reference pixels at the SUB64P edge and some bad pixels
    assert np.any(pixeldq & dqflags.DQ["REFERENCE_PIXEL"])


def test_parameters_use_jwst_names_and_reach_provenance(raw, tmp_path, capsys):
    code, out = _step(capsys, "ramp_fit", raw, "--out", tmp_path, "--set", "maximum_cores=1")
    assert code == EXIT_OK
    names = sorted(p.split("/")[-1] for p in out)
    assert names == sorted([raw.name.replace("_uncal", "_ramp_fit"),
                            raw.name.replace("_uncal", "_ramp_fitints")])
    rows = {r["STEP"]: r for r in fits.getdata(tmp_path / names[0], "PROVENANCE")}
    assert rows["ramp_fit"]["STATUS"] == "COMPLETE"
    assert '"maximum_cores": "1"' in rows["ramp_fit"]["PARAMETERS"]


def test_an_image_step_on_a_rate_file(raw, tmp_path, capsys):
    assert main(["calibrate", str(raw), "--out", str(tmp_path)]) == EXIT_OK
    rate = tmp_path / raw.name.replace("_uncal", "_rate")
    capsys.readouterr()
    code, out = _step(capsys, "flat_field", rate, "--out", tmp_path)
    assert code == EXIT_OK
    with fits.open(out[0]) as hdul, fits.open(rate) as before:
        assert hdul[0].header["S_FLAT"] == "COMPLETE"
        ratio = hdul["SCI"].data / before["SCI"].data
    assert np.nanstd(ratio) > 0  # a real flat was divided out


@pytest.mark.parametrize("argv, words", [
    (["no_such_step"], "no_such_step"),
    (["jump", "--set", "rejection_threshhold=4"], "rejection_threshhold"),
    (["tweakreg"], "association"),
])
def test_bad_usage_is_one_line_and_exit_2(raw, tmp_path, capsys, argv, words):
    step, *options = argv
    code = main(["step", step, str(raw), "--out", str(tmp_path), *options])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_BAD_INPUT
    assert len(err) == 1 and words in err[0]


def test_a_rate_file_for_a_ramp_step_is_bad_input(raw, tmp_path, capsys):
    main(["calibrate", str(raw), "--out", str(tmp_path)])
    rate = tmp_path / raw.name.replace("_uncal", "_rate")
    capsys.readouterr()
    code = main(["step", "jump", str(rate), "--out", str(tmp_path / "x")])
    assert code == EXIT_BAD_INPUT
    assert rate.name in capsys.readouterr().err
