"""calwebb_tso3 for imaging time series against jwst 3.0's own Tso3Pipeline, run offline on the
same ``_calints`` (tests/jwstkit.py).

Tolerances: both sides run the same photutils calls on the same float32 arrays scaled the same
way, so the light curves agree to rounding; the checks allow 1e-4 relative on the net aperture
sums (a change of summation order or float64 scaling stays far inside it, a different aperture,
centre or background does not: one pixel's share of a 3-px aperture is ~3 %) and 0.01 px on
the centroids (a hundredth of the 11-px fit box's pixel); times come from the same INT_TIMES
column and must be identical.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from jwstkit import offline_crds, run_tso3
from streamcal import dqflags, sim
from streamcal.errors import BadInputError, NotImplementedStepError
from streamcal.fitsio import read_cal
from streamcal.pipelines import CalibrationOptions, calibrate_file
from streamcal.pipelines.tso3 import calibrate_tso3_file, run_tso3 as streamcal_tso3
from streamcal.steps import outlier_detection, tso_photometry

pytestmark = pytest.mark.slow  # jwst's pipeline takes a few seconds to import and run

PRODUCT = "jw01234-o001_t001_nircam_f200w-clear-sub64p"
#: (integration, y, x) of the injected outlier and its size in ERR.
OUTLIER = (7, 12, 50, 200.0)


def _calints(base: Path, refs, nints: int = 20, ngroups: int = 3, stage1: CalibrationOptions = CalibrationOptions(),
             **config) -> Path:
    """A simulated NRC_TSIMAGE SUB64P exposure through streamcal's tso1 (``stage1`` options)
    and image2."""
    (raw,) = sim.simulate_to_directory(base / "landing", detector="NRCA3", exp_type="NRC_TSIMAGE",
                                       subarray="SUB64P", ngroups=ngroups, nints=nints, refs=refs, **config)
    rateints = next(p for p in calibrate_file(raw, base / "s1", refs, stage1) if p.name.endswith("_rateints.fits"))
    (calints,) = calibrate_file(rateints, base / "s2", refs)
    return calints


def _with_reference_pixel(path: Path) -> None:
    """XREF_SCI/YREF_SCI as the SIAF gives them (real products carry them; the simulator may
    not): the reference pixel of the WCS, 1-based."""
    with fits.open(path, mode="update") as hdul:
        sci = hdul["SCI"].header
        if sci.get("XREF_SCI") is None:
            sci["XREF_SCI"], sci["YREF_SCI"] = sci["CRPIX1"], sci["CRPIX2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, refs):
    """(streamcal products dir, jwst products dir, the calints given to both)."""
    base = tmp_path_factory.mktemp("tso3")
    calints = _calints(base, refs)
    _with_reference_pixel(calints)
    i, y, x, size = OUTLIER
    with fits.open(calints, mode="update") as hdul:
        hdul["SCI"].data[i, y, x] += size * hdul["ERR"].data[i, y, x]
    asn = calints.parent / "jw01234-o001_tso3_00001_asn.json"
    asn.write_text(json.dumps({"asn_type": "tso3", "asn_id": "o001", "asn_pool": "pool", "products": [
        {"name": PRODUCT, "members": [{"expname": calints.name, "exptype": "science"}]}]}))
    written = calibrate_file(asn, base / "streamcal", refs)
    with offline_crds(base / "crds"):
        run_tso3(asn, base / "jwst", refs)
    return base / "streamcal", base / "jwst", calints, written


def test_products_are_named_as_jwst_names_them(runs):
    ours, theirs, calints, written = runs
    names = sorted(p.name for p in written)
    assert names == sorted(p.name for p in theirs.iterdir() if p.suffix in (".fits", ".ecsv"))
    assert f"{PRODUCT}_phot.ecsv" in names and any(n.endswith("_o001_crfints.fits") for n in names)


def test_light_curve_matches_jwst(runs):
    ours, theirs, _, _ = runs
    mine = Table.read(ours / f"{PRODUCT}_phot.ecsv", format="ascii.ecsv")
    official = Table.read(theirs / f"{PRODUCT}_phot.ecsv", format="ascii.ecsv")
    assert mine.colnames == official.colnames and len(mine) == len(official) == 20
    assert np.array_equal(mine["MJD"], official["MJD"]) and np.array_equal(mine["BJD_TDB"], official["BJD_TDB"])
    net, ref = np.asarray(mine["net_aperture_sum"]), np.asarray(official["net_aperture_sum"])
    assert np.all(np.abs(net - ref) <= 1e-4 * np.abs(ref))
    assert str(mine["net_aperture_sum"].unit) == str(official["net_aperture_sum"].unit) == "Jy"
    for col in ("centroid_x", "centroid_y", "aperture_x", "aperture_y"):
        assert np.nanmax(np.abs(np.asarray(mine[col]) - np.asarray(official[col]))) < 0.01, col
    assert mine.meta["number_of_integrations"] == official.meta["number_of_integrations"] == 20
    assert np.allclose(mine["psf_width_x"], official["psf_width_x"], rtol=1e-4, equal_nan=True)


def test_outlier_flagged_as_jwst_flags_it(runs):
    ours, theirs, _, written = runs
    crf = next(p for p in written if p.name.endswith("_crfints.fits"))
    with fits.open(crf) as mine, fits.open(theirs / crf.name) as official:
        flag = np.uint32(dqflags.OUTLIER)
        ours_flags = (mine["DQ"].data & flag) != 0
        assert np.array_equal(ours_flags, (official["DQ"].data & flag) != 0)
        i, y, x, _ = OUTLIER
        assert ours_flags[i, y, x] and np.isnan(mine["SCI"].data[i, y, x])
        assert mine[0].header["DATAMODL"] == "CubeModel" and "INT_TIMES" in mine


@pytest.mark.parametrize("width", [3, 4, 5, 6])
def test_rolling_median_is_jwsts(width):
    from jwst.outlier_detection.tso import moving_median_over_zeroth_axis

    cube = np.random.default_rng(width).normal(size=(11, 3, 4))
    cube[4, 1, 2] = np.nan
    assert np.array_equal(outlier_detection.moving_median(cube, width),
                          moving_median_over_zeroth_axis(cube, width), equal_nan=True)


def test_rolling_window_flags_a_step_change_less(runs):
    """A flux step between integrations: the median of all integrations sees it as outliers, a
    short rolling window follows it (the reason jwst uses one)."""
    _, _, calints, _ = runs
    model = read_cal(calints)
    data = model.data.copy()
    data[10:] += 50 * np.nanmedian(model.err)
    model = replace(model, data=data)
    whole, _ = outlier_detection.detect_tso_outliers(model, outlier_detection.Params(rolling_window_width=25))
    rolling, _ = outlier_detection.detect_tso_outliers(model, outlier_detection.Params(rolling_window_width=5))
    flag = np.uint32(dqflags.OUTLIER)
    assert ((rolling.dq & flag) != 0).sum() < ((whole.dq & flag) != 0).sum() / 10


def test_spectroscopic_and_unpositioned_members_refused(runs, refs):
    _, _, calints, _ = runs
    model = read_cal(calints)
    grism = replace(model, meta=replace(model.meta, exp_type="NRC_TSGRISM"))
    with pytest.raises(NotImplementedStepError, match="extract_1d.*white_light"):
        streamcal_tso3([grism], refs)
    header = model.sci_header.copy()
    del header["XREF_SCI"]
    with pytest.raises(ValueError, match="XREF_SCI is missing"):
        tso_photometry.photometry(replace(model, sci_header=header))


def _has_transit() -> bool:
    return "transit_depth" in getattr(sim.ExposureConfig, "__dataclass_fields__", {})


@pytest.mark.skipif(not _has_transit(), reason="the simulator has no transit_depth yet")
def test_transit_depth_recovered(tmp_path, refs):
    """A transit of known depth through tso1, image2 and tso3: the light curve's floor (the
    integrations the truth puts between second and third contact) over the out-of-transit
    level gives the depth within 3 %.  A bright target (3e5 e-/s, ~0.3 % photon noise per
    integration of 6 groups) and 45 integrations make the expected scatter of the estimate
    ~1 % of it.  jump is skipped: it compares group differences across integrations and flags
    the dimmed integrations' brightest pixels, which biases their rates (measured 0.909 of the
    out-of-transit level for a 0.900 raw ramp; a stage-1 matter, not tso3's)."""
    depth = 0.1
    calints = _calints(tmp_path, refs, nints=45, ngroups=6, stage1=CalibrationOptions(skip=frozenset({"jump"})),
                       transit_depth=depth, target_flux_e=3e5)
    _with_reference_pixel(calints)
    result, _ = tso_photometry.run(read_cal(calints), {}, tso_photometry.Params())
    truth = tmp_path / "landing" / "truth" / calints.name.replace("_calints.fits", "_truth.fits")
    with fits.open(truth) as hdul:
        relative = np.asarray(hdul["TRANSIT"].data["relative_flux"], float)
        assert hdul["TRANSIT"].header["TDEPTH"] == depth
    floor, out = np.isclose(relative, 1 - depth), np.isclose(relative, 1.0)
    assert floor.sum() >= 8 and out.sum() >= 20
    flux = result.net_aperture_sum
    measured = 1 - np.median(flux[floor]) / np.median(flux[out])
    assert abs(measured - depth) <= 0.03 * depth, measured


def test_rolling_window_flags_as_jwst_does(runs, tmp_path):
    """rolling_window_width=5 (< NINTS: the rolling branch, low-weight pixels masked) on the
    same calints: the DQ, SCI and ERR streamcal makes are jwst's OutlierDetectionStep's."""
    from jwst.outlier_detection import OutlierDetectionStep
    from stdatamodels.jwst.datamodels import CubeModel

    _, _, calints, _ = runs
    ours, _ = outlier_detection.detect_tso_outliers(read_cal(calints),
                                                    outlier_detection.Params(rolling_window_width=5))
    with offline_crds(tmp_path / "crds"):
        # an open model: jwst 3.0 reopens a file name with asn_n_members, which CubeModel refuses
        theirs = OutlierDetectionStep.call(CubeModel(str(calints)), rolling_window_width=5)  # TSO: tso mode
    assert np.array_equal(ours.dq, theirs.dq)
    assert np.array_equal(ours.data, theirs.data, equal_nan=True) and np.array_equal(ours.err, theirs.err, equal_nan=True)
    i, y, x, _ = OUTLIER
    assert ours.dq[i, y, x] & dqflags.OUTLIER


def test_partial_run_is_marked_and_members_stay_inside(runs, refs, tmp_path):
    _, _, calints, _ = runs
    asn = calints.parent / "partial_asn.json"
    asn.write_text(json.dumps({"asn_type": "tso3", "asn_id": "o002", "products": [{"name": "p", "members": [
        {"expname": calints.name, "exptype": "science"}, {"expname": "gone_calints.fits", "exptype": "science"}]}]}))
    with pytest.raises(BadInputError, match="missing: gone_calints.fits"):
        calibrate_tso3_file(asn, tmp_path, refs, allowed_roots=[calints.parent])
    written = calibrate_tso3_file(asn, tmp_path, refs, allowed_roots=[calints.parent], partial=True)
    table = Table.read(tmp_path / "p_phot.ecsv", format="ascii.ecsv")
    assert table.meta["ASNPART"] is True and table.meta["ASNMISS"] == "gone_calints.fits"
    with fits.open(next(p for p in written if p.name.endswith("_o002_crfints.fits"))) as hdul:
        assert hdul[0].header["ASNPART"] is True and hdul[0].header["ASNTABLE"] == asn.name
    with pytest.raises(BadInputError):
        calibrate_tso3_file(asn, tmp_path, refs, allowed_roots=[tmp_path], partial=True)


def test_light_curve_joins_the_parquet_dataset(runs, refs, tmp_path):
    """The stream appends each light curve to a Parquet dataset (one part per product made), as it
    does catalogs: the rows equal the _phot.ecsv's."""
    from streamcal.sinks.catalogs import CatalogDataset

    _, _, calints, _ = runs
    asn = calints.parent / "lc_asn.json"
    asn.write_text(json.dumps({"asn_type": "tso3", "asn_id": "o003", "products": [{"name": "lc", "members": [
        {"expname": calints.name, "exptype": "science"}]}]}))
    calibrate_tso3_file(asn, tmp_path, refs, allowed_roots=[calints.parent], lightcurve_dataset=tmp_path / "lc")
    rows = CatalogDataset(tmp_path / "lc").read()
    phot = Table.read(tmp_path / "lc_phot.ecsv", format="ascii.ecsv")
    assert rows.num_rows == len(phot) > 0 and set(rows.column("product").to_pylist()) == {"lc"}
    np.testing.assert_array_equal(rows.column("net_aperture_sum").to_numpy(), np.asarray(phot["net_aperture_sum"]))
