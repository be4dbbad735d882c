"""Grism scene rendering (streamcal.sim.grism) through the pipeline's trace model, and the
extract_2d cutouts around it."""

from __future__ import annotations

import numpy as np
import pytest

from grismkit import GrismCase, streamcal_wcs, write_refs
from streamcal.refs.asdf_io import read_asdf_reffile
from streamcal.sim import grism as sim
from streamcal.steps import extract_2d as e2d
from streamcal.wcs import grism


def flat_rate(lam):
    return np.full(np.shape(lam), 1000.0)      # e-/s per um


@pytest.fixture(scope="module")
def nircam(tmp_path_factory):
    case = GrismCase("NRC_WFSS", "NRCALONG", "GRISMR", "F444W")
    paths = write_refs(case, tmp_path_factory.mktemp("sim"))
    spec, wcs = streamcal_wcs(case, paths)
    return case, spec, wcs, read_asdf_reffile(paths["wavelengthrange"]).tree


def test_order_total_is_the_spectrum_integral(nircam):
    """Charge is conserved to 1e-9 (relative; only floating-point sums) when the trace is on
    the image: the midpoint rule of a flat spectrum is exact."""
    case, spec, _, _ = nircam
    image = np.zeros(case.shape)
    src = sim.GrismSource(800.0, 1000.0, flat_rate)
    sim.render_order(image, spec, src, 1, (3.9, 4.9), dispaxis=1, sigma=1.2)
    assert image.sum() == pytest.approx(1000.0 * 1.0, rel=1e-9)


def test_rendered_trace_follows_the_model(nircam):
    """Cross-dispersion centroid of each column = trace y within 0.01 px (the Gaussian is
    pixel-integrated, so its centroid is exact up to the 5-sigma truncation)."""
    case, spec, _, _ = nircam
    image = np.zeros(case.shape)
    src = sim.GrismSource(800.0, 1000.0, flat_rate)
    sim.render_order(image, spec, src, 1, (3.9, 4.9), dispaxis=1, sigma=1.0)
    for col in (900, 1200, 1500, 1700):
        rows = np.arange(980, 1020)
        prof = image[980:1020, col]
        yc = float((rows * prof).sum() / prof.sum())
        lam = grism.wavelength_at(spec, np.array([col]), np.array([yc]), 800.0, 1000.0, 1, dispaxis=1)
        _, ty = grism.trace(spec, 800.0, 1000.0, lam, 1)
        assert abs(yc - ty[0]) < 0.01


def test_wfss_cutout_holds_the_source(nircam):
    """The extract_2d box (half height 5) of a point source holds >= 99.9 % of its order-1
    light (sigma 1 px: the +-5 px box loses ~1e-6) in the band; the direct image has the
    band-integrated flux."""
    case, spec, wcs, wr = nircam
    band = (3.88, 4.98)
    src = sim.GrismSource(700.0, 1200.0, flat_rate)
    image = sim.wfss_image(case.shape, spec, [src], {1: band}, dispaxis=1, sigma=1.0)
    direct = sim.direct_image((64, 64), [sim.GrismSource(30.0, 31.0, flat_rate)], band, sigma=1.0)
    assert direct.sum() == pytest.approx(1000.0 * (band[1] - band[0]), rel=1e-6)
    ra, dec, *_ = wcs.get_transform("detector", "world")(700.0, 1200.0, 1, 1)
    corners = wcs.get_transform("detector", "world")(np.array([697.0, 703, 697, 703]),
                                                     np.array([1197.0, 1197, 1203, 1203]), 1, 1)
    source = e2d.CatalogSource(1, float(ra), float(dec), tuple(corners[0]), tuple(corners[1]), 20.0, False)
    ranges = e2d.wavelength_ranges(wr, "F444W", [1])
    (box,) = e2d.wfss_boxes(wcs, [source], ranges, shape=case.shape, dispaxis=1)
    cut = e2d.cutout(wcs, box, case.shape)
    assert image[cut.slices].sum() / image.sum() > 0.999


def test_tsgrism_transit_depth():
    """The light curve scales every integration's whole trace."""
    case = GrismCase("NRC_TSGRISM", "NRCALONG", "GRISMR", "F444W")
    from streamcal.detectors import get_detector
    from streamcal.refs import synth_grism

    spec = grism.specwcs_from_tree(synth_grism.nircam_specwcs_tree(get_detector(case.detector), "GRISMR", "F444W",
                                                                  "x", field_dependent=False))
    curve = np.array([1.0, 0.99, 0.99, 1.0])
    cube = sim.tsgrism_cube((64, 2048), spec, sim.GrismSource(1008.5, 2018.0, flat_rate), 1, (3.9, 4.9), curve,
                            dispaxis=1, sigma=1.0, origin=(0, 1984))
    sums = cube.sum(axis=(1, 2))
    np.testing.assert_allclose(sums / sums[0], curve, rtol=1e-12)
    assert sums[0] == pytest.approx(1000.0, rel=1e-9)
    with pytest.raises(ValueError):
        sim.render_order(np.zeros((4, 4)), spec, sim.GrismSource(1, 1, flat_rate), 1, (3.9, 4.9), dispaxis=3,
                         sigma=1.0)
