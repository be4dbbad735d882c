"""A transiting target in simulated time-series exposures: the light curve (streamcal.sim.transit),
the time-varying ramps, the raw data, the header (XREF_SCI/YREF_SCI, INT_TIMES) and the truth."""

from __future__ import annotations

import doctest
import hashlib
from dataclasses import replace

import numpy as np
import pytest
from astropy.io import fits

from streamcal.sim import ExposureConfig, Transit, TransitTruth, read_transit_truth, simulate_exposure
from streamcal.sim import transit as sim_transit
from streamcal.sim.headers import Timing
from streamcal.sim.ramps import simulate_ramps

DEPTH = 0.02
#: NIRCam imaging TSO, 60 integrations of 8 RAPID groups (0.40 s each, 24.1 s in all); a bright
#: target (peak ~1.5e4 e- per integration: far from saturation), no cosmic rays.
TSO = ExposureConfig(detector="NRCA1", exp_type="NRC_TSIMAGE", subarray="SUB64P", ngroups=8, nints=60,
                     seed=7, target_flux_e=4e5, cosmic_ray_rate=0.0, star_count=3)


def test_docstring_examples():
    assert doctest.testmod(sim_transit).failed == 0


# ------------------------------------------------------------------------- light curve

class TestTransit:
    def test_mean_flux_is_the_integral_of_the_curve(self):
        tr = Transit(depth=0.03, mid_s=50.0, duration_s=40.0, ingress_s=7.0)
        rng = np.random.default_rng(1)
        t0 = rng.uniform(0, 100, 200)
        t1 = t0 + rng.uniform(0.01, 30, 200)
        for a, b, mean in zip(t0, t1, tr.mean_flux(t0, t1)):
            t = np.linspace(a, b, 20001)
            assert mean == pytest.approx(np.trapezoid(tr.relative_flux(t), t) / (b - a), abs=1e-7)

    def test_shape_contacts_and_box(self):
        tr = Transit(depth=0.01, mid_s=100.0, duration_s=60.0, ingress_s=10.0)
        assert tr.contacts == (70.0, 80.0, 120.0, 130.0)
        f = tr.relative_flux([69.9, 70.0, 80.0, 100.0, 120.0, 130.0, 130.1])
        np.testing.assert_allclose(f, [1.0, 1.0, 0.99, 0.99, 0.99, 1.0, 1.0])
        box = Transit(depth=0.01, mid_s=100.0, duration_s=60.0, ingress_s=0.0)
        # a box over [70, 130]: half of [40, 100] is in transit
        assert float(box.mean_flux(40.0, 100.0)) == pytest.approx(0.995)
        assert float(box.mean_flux(0.0, 60.0)) == 1.0

    @pytest.mark.parametrize("kwargs", [dict(depth=1.0), dict(depth=-0.1), dict(duration_s=0.0),
                                        dict(ingress_s=31.0), dict(ingress_s=-1.0)])
    def test_rejects_impossible_transits(self, kwargs):
        args = dict(depth=0.01, mid_s=0.0, duration_s=60.0, ingress_s=5.0) | kwargs
        with pytest.raises(ValueError):
            Transit(**args)

    def test_defaults_and_frame_factors(self):
        timing = Timing(tframe=1.0, tgroup=3.0, nframes=2, groupgap=1, ngroups=4, nints=30, expstart_mjd=60000.0)
        tr = sim_transit.transit_of(0.05, None, None, None, timing)
        assert tr.mid_s == pytest.approx(timing.duration / 2) and tr.duration_s == pytest.approx(timing.duration / 3)
        assert tr.ingress_s == pytest.approx(tr.duration_s / 10)
        assert sim_transit.transit_of(0.0, 10.0, 5.0, 1.0, timing) is None
        factors = sim_transit.frame_factors(tr, timing)
        # frames per integration: 3 groups of 2 read + 1 dropped, then the last 2 reads
        assert factors.shape == (30, 11)
        # frame f of integration i collects over [i * cycle + f, i * cycle + f + 1] s (TFRAME = 1 s)
        cycle = timing.integration_cycle
        assert factors[12, 4] == pytest.approx(float(tr.mean_flux(12 * cycle + 4, 12 * cycle + 5)))
        assert factors.min() == pytest.approx(0.95) and factors[0].max() == 1.0
        # each integration's truth is the mean over its collecting time, reset to last read
        flux = sim_transit.integration_flux(tr, timing)
        np.testing.assert_allclose(flux, factors.mean(axis=1), atol=1e-12)


# --------------------------------------------------------------------------------- ramps

def test_ramps_follow_the_variable_part_frame_by_frame():
    """A constant part and a variable part, 1e6 e-/s each: frame-by-frame charge follows the
    factors (noise-free to 0.1 % at these counts)."""
    rate = np.full((4, 4), 1e6)
    factors = np.array([[1.0, 0.5, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]])
    ramps, _ = simulate_ramps(2 * rate, nints=2, ngroups=4, tframe=1.0, read_noise_e=0.0, dtype=np.float64,
                              rng=3, variable=(rate, factors))
    diffs = np.diff(ramps, axis=1, prepend=0.0).mean(axis=(2, 3))
    expected = 1e6 * (1.0 + factors)
    np.testing.assert_allclose(diffs, expected, rtol=2e-3)
    with pytest.raises(ValueError):
        simulate_ramps(rate, nints=2, ngroups=4, tframe=1.0, variable=(rate, factors[:, :3]))


# ----------------------------------------------------------------------------- exposures

@pytest.fixture(scope="module")
def tso(refs):
    """The same TSO exposure without and with a transit."""
    flat = simulate_exposure(TSO, refs)
    transit = simulate_exposure(replace(TSO, transit_depth=DEPTH), refs)
    return flat, transit


def _aperture_light_curve(exposure, radius: float = 6.0) -> np.ndarray:
    """Target flux per integration from the raw ramps: per-pixel least-squares slope over the
    groups (DN/group), summed in a circular aperture at XREF_SCI/YREF_SCI, minus the median
    of an 8-12 px annulus times the aperture's pixel count."""
    raw = exposure.hdul["SCI"].data.astype(np.float64)
    ngroups = raw.shape[1]
    g = np.arange(ngroups) - (ngroups - 1) / 2.0
    slope = np.tensordot(g, raw, axes=([0], [1])) / np.sum(g * g)  # (nints, ny, nx)
    h = exposure.hdul["SCI"].header
    ny, nx = slope.shape[1:]
    yy, xx = np.mgrid[:ny, :nx]
    r = np.hypot(xx - (h["XREF_SCI"] - 1), yy - (h["YREF_SCI"] - 1))
    aperture, annulus = r <= radius, (r >= 8) & (r <= 12)
    background = np.median(slope[:, annulus], axis=1)
    return slope[:, aperture].sum(axis=1) - background * aperture.sum()


def test_raw_slope_at_the_target_falls_by_the_depth(tso):
    _, exposure = tso
    truth = exposure.truth.transit
    flux = _aperture_light_curve(exposure)
    inside = np.isclose(truth.relative_flux, 1.0 - DEPTH, rtol=0, atol=1e-12)   # second to third contact
    outside = np.isclose(truth.relative_flux, 1.0, rtol=0, atol=1e-12)
    assert inside.sum() >= 10 and outside.sum() >= 30
    level = flux[outside].mean()
    noise = flux[outside].std(ddof=1) / level                      # per integration, relative
    assert 1e-4 < noise < DEPTH / 3                                # the transit is well above the noise
    depth = 1.0 - flux[inside].mean() / level
    sigma = noise * np.sqrt(1.0 / inside.sum() + 1.0 / outside.sum())
    assert abs(depth - DEPTH) < 4 * sigma, (depth, sigma)
    # out of transit flat: before and after agree, and the whole curve follows the truth
    t = np.arange(len(flux))
    before, after = outside & (t < t.mean()), outside & (t > t.mean())
    drift = flux[before].mean() / flux[after].mean() - 1.0
    assert abs(drift) < 4 * noise * np.sqrt(1.0 / before.sum() + 1.0 / after.sum())
    chi2 = np.sum(((flux / level - truth.relative_flux) / noise) ** 2) / len(flux)
    assert chi2 < 2.0, chi2


def test_only_the_target_is_dimmed(tso):
    """Away from the target (the sky and the other stars) the slopes keep their level through
    the transit, and the transited part of the truth is the target star alone."""
    flat, exposure = tso
    truth = exposure.truth.transit
    far = truth.target_rate_dn == 0
    assert far.mean() > 0.7 and truth.target_rate_dn.max() > 100
    inside = np.isclose(truth.relative_flux, 1.0 - DEPTH, rtol=0, atol=1e-12)
    raw = exposure.hdul["SCI"].data.astype(np.float64)
    signal = (raw[:, -1] - raw[:, 0])[:, far].sum(axis=1)            # DN per integration
    rest = signal[np.isclose(truth.relative_flux, 1.0, rtol=0, atol=1e-12)]
    step = signal[inside].mean() / rest.mean() - 1.0
    assert abs(step) < 4 * rest.std(ddof=1) / rest.mean() * np.sqrt(1 / inside.sum() + 1 / len(rest))
    # the target's rate in the truth: its PSF around the target, all of the target's flux
    total = truth.target_rate_dn.sum() * np.median(exposure.truth.gain)
    assert total == pytest.approx(truth.target_flux_e, rel=0.05)
    np.testing.assert_array_equal(exposure.truth.rate_dn, flat.truth.rate_dn)   # out-of-transit rate


def test_truth_light_curve_depth_mid_time_and_duration(tso, tmp_path):
    _, exposure = tso
    timing = exposure.setup.timing
    path = exposure.write(tmp_path)
    truth = read_transit_truth(tmp_path / "truth" / path.name.replace("_uncal.fits", "_truth.fits"))
    assert isinstance(truth, TransitTruth)
    assert truth.depth == DEPTH and truth.relative_flux.min() == pytest.approx(1.0 - DEPTH)
    assert truth.mid_s == pytest.approx(timing.duration / 2) and truth.duration_s == pytest.approx(timing.duration / 3)
    with fits.open(path) as hdul:
        np.testing.assert_array_equal(truth.int_mid_mjd, hdul["INT_TIMES"].data["int_mid_MJD_UTC"])
        assert hdul[0].header["EXPSTART"] + truth.mid_s / 86400 == pytest.approx(truth.mid_mjd, abs=1e-9)
    # mid-time: the centroid of the flux deficit (the trapezoid is symmetric)
    deficit = 1.0 - truth.relative_flux
    centroid = np.sum(deficit * truth.int_mid_mjd) / deficit.sum()
    assert centroid == pytest.approx(truth.mid_mjd, abs=0.5 * timing.integration_cycle / 86400)
    # duration: the equivalent width of the deficit is T14 - ingress (area of the trapezoid / depth)
    width = deficit.sum() * timing.integration_cycle / DEPTH
    assert width == pytest.approx(truth.duration_s - truth.ingress_s, rel=0.05)
    # the target position in the truth: where XREF_SCI/YREF_SCI put it (no pointing error)
    sci = exposure.hdul["SCI"].header
    assert (truth.target_x + 1, truth.target_y + 1) == pytest.approx((sci["XREF_SCI"], sci["YREF_SCI"]), abs=1e-3)
    # the in-integration rate of the truth: out-of-transit rate with the target scaled
    mid = int(np.argmin(truth.relative_flux))
    dimmed = truth.rate_dn(exposure.truth.rate_dn, mid)
    assert dimmed.sum() == pytest.approx(exposure.truth.rate_dn.sum() - DEPTH * truth.target_rate_dn.sum(), rel=1e-5)


def test_a_custom_transit_is_where_it_is_asked(refs):
    cfg = replace(TSO, nints=20, ngroups=3, transit_depth=0.1, transit_mid=1.0, transit_duration=1.0,
                  transit_ingress=0.0)
    truth = simulate_exposure(cfg, refs).truth.transit
    timing = resolve_timing(cfg)
    start = np.arange(cfg.nints) * timing.integration_cycle
    end = start + timing.effinttm
    expected = np.where((start >= 0.5) & (end <= 1.5), 0.9, np.where((end <= 0.5) | (start >= 1.5), 1.0, np.nan))
    known = ~np.isnan(expected)
    np.testing.assert_allclose(truth.relative_flux[known], expected[known])
    assert np.all((truth.relative_flux[~known] > 0.9) & (truth.relative_flux[~known] < 1.0))


def resolve_timing(cfg: ExposureConfig) -> Timing:
    from streamcal.sim.config import resolve

    return resolve(cfg).timing


def test_header_reference_pixel_only_for_tso(refs):
    image = simulate_exposure(ExposureConfig(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB64P",
                                             ngroups=2, seed=1), refs)
    assert "XREF_SCI" not in image.hdul["SCI"].header
    grism = simulate_exposure(ExposureConfig(detector="NRCALONG", exp_type="NRC_TSGRISM", subarray="SUBGRISM64",
                                             ngroups=2, nints=2, seed=2), refs)
    h = grism.hdul["SCI"].header
    target = grism.truth.sources[grism.truth.sources["kind"] == "target"]
    assert (h["XREF_SCI"], h["YREF_SCI"]) == pytest.approx((target["x"][0] + 1, target["y"][0] + 1), abs=1e-3)


def _digest(exposure, tmp_path) -> tuple[str, str]:
    path = exposure.write(tmp_path)
    truth = tmp_path / "truth" / path.name.replace("_uncal.fits", "_truth.fits")
    return hashlib.sha256(path.read_bytes()).hexdigest(), hashlib.sha256(truth.read_bytes()).hexdigest()


def test_zero_depth_changes_nothing(refs, tmp_path):
    """With transit_depth 0 the other transit fields are ignored: the raw file and the truth
    are byte for byte those of the config without them, and the truth has no transit."""
    base = replace(TSO, nints=4, ngroups=3)
    plain = simulate_exposure(base, refs)
    asked = simulate_exposure(replace(base, transit_mid=0.3, transit_duration=0.5, transit_ingress=0.1), refs)
    assert plain.truth.transit is None
    assert _digest(plain, tmp_path / "a") == _digest(asked, tmp_path / "b")
    with fits.open(tmp_path / "a" / "truth" / plain.filename.replace("_uncal.fits", "_truth.fits")) as hdul:
        assert "TRANSIT" not in hdul and TransitTruth.from_hdulist(hdul) is None


def test_a_transit_needs_a_target(refs):
    with pytest.raises(ValueError, match="target"):
        simulate_exposure(replace(TSO, nints=2, ngroups=2, target_flux_e=0.0, transit_depth=0.01), refs)
    with pytest.raises(ValueError, match="transit_depth"):
        simulate_exposure(replace(TSO, transit_depth=1.5), refs)
