"""combine_1d: the output grid and weighted mean, and agreement with jwst 3.0's Combine1dStep on the
same x1d files (written by streamcal.spectra)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from streamcal import dqflags
from streamcal.spectra import Spectrum, SpectrumMeta, write_x1d
from streamcal.spectra.model import SPEC_COLUMNS
from streamcal.steps.combine_1d import WeightedSpectrum, combine_1d, output_wavelengths


def spec(wl, flux, dq=None, order=1, seed=0):
    n = wl.size
    rng = np.random.default_rng(seed)
    cols = {c: rng.random(n) * 0.01 for c, _ in SPEC_COLUMNS}
    cols.update(WAVELENGTH=wl, FLUX=flux, SURF_BRIGHT=flux * 10, NPIXELS=np.full(n, 5.0),
                DQ=np.zeros(n, np.uint32) if dq is None else dq)
    return Spectrum.from_columns(cols, SpectrumMeta(name="MIR_LRS-FIXEDSLIT", source_id=1, spectral_order=order,
                                                    source_type="POINT", dispersion_direction=2))


def test_identical_grids_give_the_same_grid_and_weighted_mean():
    wl = np.linspace(5, 10, 11)
    a, b = spec(wl, np.full(11, 1.0)), spec(wl, np.full(11, 4.0), seed=1)
    (out,) = combine_1d([WeightedSpectrum(a, 100.0), WeightedSpectrum(b, 300.0)])
    np.testing.assert_allclose(out.wavelength, wl)
    np.testing.assert_allclose(out.flux, (1 * 100 + 4 * 300) / 400)
    np.testing.assert_allclose(out.weight, 400.0)
    np.testing.assert_array_equal(out.n_input, 2)
    expected = np.sqrt((a.flux_error * 100) ** 2 + (b.flux_error * 300) ** 2) / 400
    np.testing.assert_allclose(out.error, expected)


def test_clumps_of_shifted_grids():
    """Two grids offset by a tenth of a sample: each output wavelength is a pair's mean."""
    wl = np.linspace(5, 10, 11)
    grid = output_wavelengths([wl, wl + 0.05])
    np.testing.assert_allclose(grid, wl + 0.025)


def test_do_not_use_and_orders():
    wl = np.linspace(5, 10, 6)
    dq = np.array([0, dqflags.DO_NOT_USE, 0, 0, 0, 0], np.uint32)
    a = spec(wl, np.full(6, 2.0), dq=dq)
    b = spec(wl, np.full(6, 4.0), seed=1)
    c = spec(wl * 2, np.full(6, 1.0), order=2)
    one, two = combine_1d([WeightedSpectrum(a, 1.0), WeightedSpectrum(b, 1.0), WeightedSpectrum(c, 1.0)])
    assert one.spectral_order == 1 and two.spectral_order == 2
    assert one.flux[1] == 4.0 and one.n_input[1] == 1 and one.flux[0] == 3.0
    np.testing.assert_allclose(two.wavelength, wl * 2)
    with pytest.raises(ValueError, match="no valid"):
        combine_1d([WeightedSpectrum(spec(wl, np.full(6, np.nan)), 1.0)])


def header(exptime):
    return fits.Header({"TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE",
                        "EXP_TYPE": "MIR_LRS-FIXEDSLIT", "FILTER": "P750L", "SUBARRAY": "FULL",
                        "DATE-OBS": "2026-01-01", "TIME-OBS": "00:00:00", "EFFEXPTM": exptime, "EXPSTART": 61000.0,
                        "TARG_RA": 80.0, "TARG_DEC": -69.5})


@pytest.mark.parametrize("sigma_clip", [None, 3.0])
def test_matches_jwst_combine1d(tmp_path, sigma_clip):
    """Two nods with slightly different, non-uniform grids and exposure times, a DO_NOT_USE sample
    and an outlier: jwst's output grid and weighted means to 1e-12 relative (same float64
    arithmetic, different summation order only)."""
    pytest.importorskip("jwst")
    from jwst.combine_1d import Combine1dStep
    from jwst.datamodels import ModelContainer
    from jwstkit import offline_crds

    rng = np.random.default_rng(3)
    base = 5 + np.cumsum(0.1 + 0.02 * rng.random(40))
    inputs, paths = [], []
    for i, (shift, exptime) in enumerate(((0.0, 100.0), (0.013, 250.0), (0.031, 180.0))):
        flux = 1e-3 * (1 + 0.1 * np.sin(base)) * (1 + 0.01 * rng.standard_normal(40))
        if i == 1:
            flux[7] *= 30  # an outlier for the clipping case
        dq = np.zeros(40, np.uint32)
        dq[12 + i] = dqflags.DO_NOT_USE
        s = spec(base + shift, flux, dq=dq, seed=i)
        inputs.append(WeightedSpectrum(s, exptime))
        paths.append(write_x1d(tmp_path / f"n{i}_x1d.fits", header(exptime), [s]))
    with offline_crds(tmp_path / "crds"):
        container = ModelContainer([str(p) for p in paths])
        result = Combine1dStep.call(container, sigma_clip=sigma_clip)
    table = result.spec[0].spec_table
    (ours,) = combine_1d(inputs, sigma_clip=sigma_clip)
    assert ours.wavelength.size == len(table)
    np.testing.assert_allclose(ours.wavelength, table["WAVELENGTH"], rtol=1e-12)
    for name in ("FLUX", "ERROR", "SURF_BRIGHT", "SB_ERROR", "WEIGHT", "N_INPUT"):
        np.testing.assert_allclose(ours.column(name), table[name], rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(ours.dq, table["DQ"])
