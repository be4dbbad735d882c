"""white_light: per-integration sums, the ECSV product, and agreement with jwst 3.0's WhiteLightStep
on the same x1dints file (written by streamcal.spectra)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from streamcal.spectra import Spectrum, SpectrumMeta, TSOSpectra, write_x1dints
from streamcal.spectra.model import SPEC_COLUMNS
from streamcal.steps.white_light import white_light, write_whitelight

NINT, NWAVE = 6, 30


def tso(order=1, detector="MIRIMAGE", seed=0, mid=None) -> TSOSpectra:
    rng = np.random.default_rng(seed)
    wl = np.linspace(5, 12, NWAVE)
    per_int = []
    for i in range(NINT):
        cols = {c: rng.random(NWAVE) * 1e-3 for c, _ in SPEC_COLUMNS}
        flux = 1e-3 * (1 + 0.1 * np.cos(wl)) * (0.99 if i in (2, 3) else 1.0)
        flux[4] = np.nan
        cols.update(WAVELENGTH=wl, FLUX=flux, DQ=np.zeros(NWAVE, np.uint32))
        per_int.append(Spectrum.from_columns(cols, SpectrumMeta(name="MIR_LRS-SLITLESS", spectral_order=order,
                                                                detector=detector, dispersion_direction=2)))
    mid = 61000.0 + np.arange(NINT) * 0.001 if mid is None else mid
    return TSOSpectra.from_spectra(per_int, np.arange(1, NINT + 1),
                                   {"mjd_beg": mid - 0.0005, "mjd_avg": mid, "mjd_end": mid + 0.0005,
                                    "tdb_beg": mid - 0.0005 + 0.003, "tdb_mid": mid + 0.003,
                                    "tdb_end": mid + 0.0005 + 0.003})


def test_sums_and_limits():
    t = tso()
    result = white_light([t], min_wave=6.0, max_wave=10.0)
    wl = t.spectral["WAVELENGTH"][0]
    inside = (wl >= 6) & (wl <= 10)
    expected = np.nansum(np.where(inside, t.spectral["FLUX"], np.nan), axis=1)
    np.testing.assert_allclose(result.columns["whitelight_flux"], expected)
    np.testing.assert_allclose(result.columns["MJD_UTC"], t.mjd_avg)
    np.testing.assert_allclose(result.columns["BJD_TDB"], t.tdb_mid)
    assert list(result.columns) == ["MJD_UTC", "BJD_TDB", "whitelight_flux"]
    dip = 1 - result.columns["whitelight_flux"][2] / result.columns["whitelight_flux"][0]
    assert dip == pytest.approx(0.01, rel=1e-9)


def test_duplicate_times_and_orders():
    mid = 61000.0 + np.array([0, 1, 1, 2, 3, 4]) * 0.001
    result = white_light([tso(1, mid=mid), tso(2, seed=1, mid=mid)])
    assert list(result.columns) == ["MJD_UTC", "BJD_TDB", "whitelight_flux_order_1", "whitelight_flux_order_2"]
    assert result.columns["MJD_UTC"].size == 5


def test_ecsv_product(tmp_path):
    result = white_light([tso()], meta={"instrument": "MIRI"})
    path = write_whitelight(result, tmp_path / "a_whtlt.ecsv", {"SC_VER": "x"})
    table = QTable.read(path)
    assert str(table["whitelight_flux"].unit) == "Jy" and table.meta["instrument"] == "MIRI"
    np.testing.assert_allclose(table["whitelight_flux"].value, result.columns["whitelight_flux"])


@pytest.mark.parametrize("limits", [{}, {"min_wavelength": 6.0, "max_wavelength": 10.0}])
def test_matches_jwst_white_light(tmp_path, limits):
    """Same sums in the same float64 order of operations: equal to 1e-12 relative; the times
    are copied, so exactly equal."""
    pytest.importorskip("jwst")
    from jwst.white_light import WhiteLightStep
    from jwstkit import offline_crds

    t = tso()
    header = fits.Header({"TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE",
                          "EXP_TYPE": "MIR_LRS-SLITLESS", "FILTER": "P750L", "SUBARRAY": "SLITLESSPRISM",
                          "DATE-OBS": "2026-01-01", "TIME-OBS": "00:00:00", "TSOVISIT": True, "NINTS": NINT})
    path = write_x1dints(tmp_path / "t_x1dints.fits", header, [t])
    with offline_crds(tmp_path / "crds"):
        table = WhiteLightStep.call(str(path), override_wavelengthrange="N/A", **limits)
    ours = white_light([t], min_wave=limits.get("min_wavelength"), max_wave=limits.get("max_wavelength"))
    assert table.colnames == list(ours.columns)
    np.testing.assert_array_equal(table["MJD_UTC"], ours.columns["MJD_UTC"])
    np.testing.assert_array_equal(table["BJD_TDB"], ours.columns["BJD_TDB"])
    np.testing.assert_allclose(table["whitelight_flux"].value, ours.columns["whitelight_flux"], rtol=1e-12)
    assert str(table["whitelight_flux"].unit) == "Jy"
