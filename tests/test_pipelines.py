"""Whole stage-1 pipelines, file to file: the demo program (every stage-1 pipeline) and the
real FGS file.  Yardsticks: the simulator's injected truth, and the pipeline table."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from streamcal import dqflags, router, sim
from streamcal.cli import main
from streamcal.fitsio import read_header
from streamcal.pipelines import CalibrationOptions, calibrate_file


@pytest.fixture(scope="session")
def program(tmp_path_factory, refs):
    """The demo program, simulated once, calibrated once with default options."""
    base = tmp_path_factory.mktemp("program")
    raws = sim.simulate_program(base / "landing", seed=3, refs=refs, truth_dir=base / "truth")
    products = {raw.name: calibrate_file(raw, base / "products", refs) for raw in raws}
    return base, raws, products


def _truth(base, raw_name):
    root = raw_name.removesuffix("_uncal.fits")
    with fits.open(base / "truth" / f"{root}_truth.fits") as hdul:
        return hdul["RATE"].data.astype(np.float64)


def _find(raws, exp_type):
    return next(r for r in raws if read_header(r)["EXP_TYPE"] == exp_type)


def test_every_exposure_gets_its_pipelines_products(program):
    base, raws, products = program
    expected = {"calwebb_detector1": {"rate"}, "calwebb_tso1": {"rate", "rateints"},
                "calwebb_dark": {"dark"}, "calwebb_guider": {"cal"}}
    for raw in raws:
        header = read_header(raw)
        stage1 = router.route(header).stage1
        suffixes = {p.name.removesuffix(".fits").rsplit("_", 1)[1] for p in products[raw.name]}
        want = set(expected[stage1]) | ({"rateints"} if header["NINTS"] > 1 and stage1 != "calwebb_guider" else set())
        assert suffixes == want, raw.name
        for path in products[raw.name]:
            with fits.open(path) as hdul:
                h = hdul[0].header
                assert h["SC_PIPE"] == stage1 and len(h["SC_INSHA"]) == 64 and h["SC_INPUT"] == raw.name
                assert "PROVENANCE" in hdul


@pytest.mark.parametrize("exp_type", ["NRC_IMAGE", "NIS_IMAGE", "MIR_IMAGE"])
def test_rate_against_truth(program, exp_type):
    """The whole pipeline (bias, refpix, linearity, dark, jump, ramp fit) recovers the injected
    rate.  Gain scale: the least-squares ratio of rate to truth over pixels above 10 DN/s is 1
    within max(1e-3, 4 standard errors) — a few hundred source pixels cannot pin it tighter.
    Noise: over all clean pixels (~60 000), the pull (rate − truth)/ERR has std 0.95–1.05 and
    mean within ±0.1 (a common-mode error, e.g. reference-pixel residuals, shows up here)."""
    base, raws, products = program
    raw = _find(raws, exp_type)
    rate = next(p for p in products[raw.name] if p.name.endswith("_rate.fits"))
    truth = _truth(base, raw.name)
    with fits.open(rate) as hdul:
        sci, err, dq = (hdul[k].data.astype(np.float64) for k in ("SCI", "ERR", "DQ"))
    clean = (dq == 0) & (err > 0)
    bright = clean & (truth > 10)
    assert bright.sum() > 20
    w = truth[bright] ** 2 / err[bright] ** 2
    scale_error = np.sum((sci[bright] - truth[bright]) * truth[bright] / err[bright] ** 2) / w.sum()
    assert abs(scale_error) < max(1e-3, 4 / np.sqrt(w.sum()))
    pull = (sci[clean] - truth[clean]) / err[clean]
    assert 0.95 < np.std(pull) < 1.05
    assert abs(np.mean(pull)) < 0.1


def test_real_fgs_acq1_guider(tmp_path, refs, fgs_acq1):
    """The real archive FGS ACQ1 file through calwebb_guider with the embedded references: a finite
    3-D (6, 128, 128) countrate product, as the official pipeline's."""
    (path,) = calibrate_file(fgs_acq1, tmp_path, refs)
    assert path.name == "jw01019001001_gs-acq1_2022117003102_cal.fits"
    with fits.open(path) as hdul:
        assert hdul["SCI"].data.shape == (6, 128, 128) and hdul["DQ"].data.shape == (128, 128)
        assert np.isfinite(hdul["SCI"].data).all() and np.isfinite(hdul["ERR"].data).all()
        assert (hdul["ERR"].data > 0).all()
        h = hdul[0].header
        assert (h["S_DQINIT"], h["S_GUICDS"], h["S_FLAT"]) == ("COMPLETE",) * 3
        assert h["R_MASK"].startswith("streamcal_fgs_guider2_mask")


def test_skip_set_override_are_recorded(tmp_path, program, refs):
    base, raws, _ = program
    raw = _find(raws, "NIS_IMAGE")
    gain = refs.select("gain", read_header_meta(raw))
    out = tmp_path / "o"
    code = main(["calibrate", str(raw), "--out", str(out), "--skip", "refpix",
                 "--set", "jump.rejection_threshold=5", "--set", "saturation.n_pix_grow_sat=0",
                 "--override", f"gain={gain}"])
    assert code == 0
    with fits.open(out / raw.name.replace("_uncal", "_rate")) as hdul:
        h = hdul[0].header
        assert h["S_REFPIX"] == "SKIPPED" and h["S_JUMP"] == "COMPLETE" and h["S_IPC"] == "SKIPPED"
        assert h["R_GAIN"] == gain.name
        table = {row["STEP"]: row for row in hdul["PROVENANCE"].data}
        assert '"rejection_threshold": 5.0' in table["jump"]["PARAMETERS"]
        assert '"n_pix_grow_sat": 0' in table["saturation"]["PARAMETERS"]


def read_header_meta(raw):
    from streamcal.fitsio import read_raw

    return read_raw(raw).meta


def test_dark_pipeline_stops_before_dark_current(program):
    base, raws, products = program
    raw = _find(raws, "NRC_DARK")
    (path,) = products[raw.name]
    with fits.open(path) as hdul:
        assert hdul["SCI"].data.ndim == 4 and hdul["GROUPDQ"].data.dtype == np.uint8
        h = hdul[0].header
        assert h["S_LINEAR"] == "COMPLETE" and "S_DARK" not in h and "S_JUMP" not in h


def test_tso_pipeline_rateints(program):
    base, raws, products = program
    raw = _find(raws, "NRC_TSIMAGE")
    rateints = next(p for p in products[raw.name] if p.name.endswith("_rateints.fits"))
    with fits.open(rateints) as hdul:
        nints = hdul[0].header["NINTS"]
        assert hdul["SCI"].data.shape[0] == nints and "INT_TIMES" in hdul
        assert hdul[0].header["S_IPC"] == "SKIPPED"  # skipped by the TSO parameter set


def test_ramp_fit_skipped_gives_ramp_product(tmp_path, program, refs):
    base, raws, _ = program
    raw = _find(raws, "NIS_IMAGE")
    (path,) = calibrate_file(raw, tmp_path, refs, CalibrationOptions(skip=frozenset({"ramp_fit"})))
    assert path.name.endswith("_ramp.fits")
    with fits.open(path) as hdul:
        assert hdul[0].header["S_RAMP"] == "SKIPPED" and hdul[0].header["S_GANSCL"] == "SKIPPED"
        assert (hdul["GROUPDQ"].data & dqflags.JUMP_DET).any() or hdul[0].header["S_JUMP"] == "COMPLETE"


# ------------------------------------------------------------------ the shared step loop, stage 2

class _Refs:
    """A reference set stub: ``get`` answers from a dict (None = N/A)."""

    def __init__(self, **refs):
        self.refs = refs

    def get(self, reftype, meta):
        return self.refs.get(reftype)


def _rate_model(value=10.0):
    from stepkit import header

    from streamcal.models import ExposureMeta, ImageModel

    hdr = header(1, 2, 2, 2, FILTER="F200W", PUPIL="CLEAR")
    full = lambda v: np.full((2, 2), v, np.float32)  # noqa: E731
    return ImageModel(ExposureMeta.from_header(hdr, (1, 2, 2, 2)), hdr, full(value), full(1.0),
                      np.zeros((2, 2), np.uint32), var_poisson=full(1.0), var_rnoise=full(0.0))


def test_run_steps_records_hooks_and_inputs():
    """run_steps (the loop of stage 1 and 2): one StepRecord per step in order, step inputs
    reach the step (background gets its exposures), a required reference that is N/A skips the
    step with that reason, before/after see every step."""
    from stepkit import ref

    from streamcal.pipelines.runner import run_steps
    from streamcal.provenance import Provenance
    from streamcal.steps import background, flat_field

    seen = []
    params = {"background": background.Params(), "flat_field": flat_field.Params()}
    prov = Provenance("calwebb_image2", "x_rate.fits", "")
    model, keywords = run_steps(
        ["background", "flat_field"], _rate_model(), _Refs(), params, prov,
        inputs={"background": {"backgrounds": [_rate_model(4.0)]}},
        before=lambda name, m, p: seen.append(("before", name)) or p,
        after=lambda name, m: seen.append(("after", name)))
    assert [(r.name, r.status, r.status_keyword) for r in prov.steps] == [
        ("background", "COMPLETE", "S_BKDSUB"), ("flat_field", "SKIPPED", "S_FLAT")]
    assert "no flat reference file applies" in prov.steps[1].note
    assert seen == [("before", "background"), ("after", "background"), ("before", "flat_field"),
                    ("after", "flat_field")]
    np.testing.assert_allclose(model.data, 6.0)
    prov2 = Provenance("calwebb_image2", "x_rate.fits", "")
    run_steps(["flat_field"], _rate_model(), _Refs(flat=ref("flat", SCI=np.full((2, 2), 2.0))),
              params, prov2)
    assert prov2.steps[0].status == "COMPLETE" and prov2.steps[0].reffiles == {"flat": "test"}


def test_a_step_streamcal_lacks_can_only_be_skipped():
    from streamcal.errors import NotImplementedStepError
    from streamcal.pipelines.definitions import PipelineSpec
    from streamcal.pipelines.runner import resolve_params, run_steps
    from streamcal.provenance import Provenance

    spec = PipelineSpec("test", ("no_such_step",), ("no_such_step",), "cal", stage=2)
    prov = Provenance("test", "x", "")
    skip = resolve_params(spec, "NIRCAM", CalibrationOptions(skip=frozenset({"no_such_step"})))
    run_steps(["no_such_step"], _rate_model(), _Refs(), skip, prov)
    assert (prov.steps[0].status, prov.steps[0].note) == ("SKIPPED", "skipped by parameter")
    with pytest.raises(NotImplementedStepError, match="no_such_step"):
        run_steps(["no_such_step"], _rate_model(), _Refs(), resolve_params(spec, "NIRCAM", CalibrationOptions()), prov)


def test_image2_is_registered():
    from streamcal import registry
    from streamcal.pipelines.definitions import pipeline_for
    from streamcal.pipelines.files import is_stage2_input

    spec = pipeline_for("calwebb_image2")
    assert spec.stage == 2 and registry.implemented("calwebb_image2") and pipeline_for("image2") is spec
    assert spec.steps_for("MIRI") == ("background", "assign_wcs", "flat_field", "photom", "resample")
    assert is_stage2_input("a_rate.fits") and is_stage2_input("a_rateints.fits") and is_stage2_input("l2_asn.json")
    assert not is_stage2_input("a_uncal.fits")
    assert is_stage2_input("a_uncal.fits", CalibrationOptions(pipeline="calwebb_image2"))


def test_every_pipeline_of_the_registry_has_steps_or_says_it_is_not_implemented():
    """One registry: each implemented pipeline has its step list, a worker runner and a module;
    the others raise "not implemented yet" by any of their names; unknown names list the known."""
    from streamcal import registry
    from streamcal.actors.worker import RUNNERS
    from streamcal.errors import NotImplementedStepError
    from streamcal.pipelines.definitions import PIPELINES, pipeline_for

    for entry in registry.REGISTRY.values():
        if entry.implemented:
            assert pipeline_for(entry.short) is PIPELINES[entry.name] and entry.name in RUNNERS
            assert entry.module is not None
        else:
            with pytest.raises(NotImplementedStepError, match="not implemented yet"):
                pipeline_for(entry.short)
    assert pipeline_for("calwebb_dark1") is PIPELINES["calwebb_dark"]
    with pytest.raises(ValueError, match="unknown pipeline 'detector9'.*detector1"):
        pipeline_for("detector9")


def test_step_values_are_checked_against_the_pipeline():
    from streamcal.pipelines.definitions import validate_step_values

    validate_step_values("detector1", {"jump": {"rejection_threshold": 5.0}, "rscd": {"skip": True}})
    with pytest.raises(ValueError, match="no step"):
        validate_step_values("detector1", {"tweakreg": {}})
    with pytest.raises(ValueError, match="no_such_param"):
        validate_step_values("image2", {"resample": {"no_such_param": 1}})
