"""Spectral products: round trips, and every written file opens in stdatamodels 6.0 as its class
with no warning (validation or otherwise), its tables holding what was written."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from astropy.io import fits

from streamcal import spectra as sp
from streamcal.provenance import Provenance
from streamcal.spectra.model import SPEC_COLUMNS

dm = pytest.importorskip("stdatamodels.jwst.datamodels")


def primary(exp_type="MIR_LRS-FIXEDSLIT", **extra) -> fits.Header:
    h = fits.Header({"TELESCOP": "JWST", "INSTRUME": "MIRI", "DETECTOR": "MIRIMAGE", "EXP_TYPE": exp_type,
                     "FILTER": "P750L", "SUBARRAY": "FULL", "FILENAME": "jw01234001001_01101_00001_mirimage_x1d.fits",
                     "DATE-OBS": "2026-01-01", "TIME-OBS": "00:00:00", "EXPSTART": 61000.0, "EXPEND": 61000.01,
                     "EFFEXPTM": 100.0, "NINTS": 3})
    h.update(extra)
    return h


def spectrum(n=7, seed=0, **meta) -> sp.Spectrum:
    rng = np.random.default_rng(seed)
    cols = {c: rng.random(n) for c, _ in SPEC_COLUMNS}
    cols["WAVELENGTH"] = np.linspace(5.0, 10.0, n)
    cols["DQ"] = np.arange(n, dtype=np.uint32) % 2
    cols["NPIXELS"] = np.full(n, 8.0)
    return sp.Spectrum.from_columns(cols, sp.SpectrumMeta(**meta))


def open_clean(path, cls):
    """Open with stdatamodels turning every warning into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = dm.open(path)
    assert type(model) is cls, type(model)
    return model


def test_columns_match_stdatamodels():
    """The column lists are the schema's (names, order, types)."""
    assert [(n, np.dtype(t)) for n, t in SPEC_COLUMNS] == [(n, np.dtype(t).newbyteorder("=")) for n, t in
                                                          dm.SpecModel().get_dtype("spec_table").descr]
    combined = [(n, np.dtype(t)) for n, t in dm.CombinedSpecModel().get_dtype("spec_table").descr]
    assert [(n, np.dtype(t)) for n, t in sp.COMBINED_COLUMNS] == combined


def test_x1d_round_trip_and_stdatamodels(tmp_path):
    specs = [spectrum(7, 0, name="MIR_LRS-FIXEDSLIT", source_id=1, source_type="POINT", spectral_order=1,
                      dispersion_direction=2, extraction_xstart=30.5, extraction_xstop=37.5,
                      extraction_ystart=1.0, extraction_ystop=7.0),
             spectrum(5, 1, name="S2", source_id=2, source_type="EXTENDED")]
    prov = Provenance("spec2", "in.fits", "0" * 64)
    path = sp.write_x1d(tmp_path / "a_x1d.fits", primary(), specs, prov)
    back = sp.read_x1d(path)
    assert len(back.spectra) == 2
    for a, b in zip(specs, back.spectra):
        for c, _ in SPEC_COLUMNS:
            np.testing.assert_array_equal(a.column(c), b.column(c))
        assert a.meta == b.meta
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "EXTRACT1D", "EXTRACT1D", "PROVENANCE", "ASDF"]
        assert hdul[1].columns["FLUX"].unit == "Jy" and hdul[1].columns["SURF_BRIGHT"].unit == "MJy/sr"
    model = open_clean(path, dm.MultiSpecModel)
    assert model.meta.instrument.name == "MIRI" and model.meta.exposure.type == "MIR_LRS-FIXEDSLIT"
    assert len(model.spec) == 2 and model.spec[0].name == "MIR_LRS-FIXEDSLIT"
    assert model.spec[0].source_type == "POINT" and model.spec[0].extraction_xstart == 30.5
    np.testing.assert_array_equal(model.spec[0].spec_table["FLUX"], specs[0].flux)
    np.testing.assert_array_equal(model.spec[1].spec_table["DQ"], specs[1].dq)


def test_x1dints_round_trip_and_stdatamodels(tmp_path):
    per_int = [spectrum(6, i, name="MIR_LRS-SLITLESS", spectral_order=1, dispersion_direction=2) for i in range(3)]
    times = {"mjd_beg": np.array([1.0, 2.0, 3.0]), "mjd_avg": np.array([1.5, 2.5, 3.5]),
             "mjd_end": np.array([2.0, 3.0, 4.0])}
    tso = sp.TSOSpectra.from_spectra(per_int, np.array([1, 2, 3]), times, segment=1)
    int_times = np.rec.fromarrays([np.arange(1, 4, dtype=np.int32)] + [np.arange(3.0)] * 6,
                                  names="integration_number,int_start_MJD_UTC,int_mid_MJD_UTC,int_end_MJD_UTC,"
                                        "int_start_BJD_TDB,int_mid_BJD_TDB,int_end_BJD_TDB")
    path = sp.write_x1dints(tmp_path / "a_x1dints.fits", primary("MIR_LRS-SLITLESS", TSOVISIT=True), [tso],
                            int_times=int_times)
    back = sp.read_x1dints(path).spectra[0]
    for c, _ in SPEC_COLUMNS:
        np.testing.assert_array_equal(back.spectral[c], tso.spectral[c])
    np.testing.assert_array_equal(back.mjd_avg, times["mjd_avg"])
    assert np.isnan(back.tdb_mid).all() and back.meta == tso.meta
    model = open_clean(path, dm.TSOMultiSpecModel)
    table = model.spec[0].spec_table
    assert len(table) == 3 and table["FLUX"].shape == (3, 6)
    np.testing.assert_array_equal(table["FLUX"][1], per_int[1].flux)
    np.testing.assert_array_equal(table["INT_NUM"], [1, 2, 3])
    assert len(table.columns) == 27
    assert len(model.int_times) == 3


def test_wfss_x1d_round_trip_and_stdatamodels(tmp_path):
    specs = [spectrum(5, 0, source_id=3, source_type="POINT", source_xpos=10.0, source_ypos=20.0,
                      source_ra=1.0, source_dec=2.0),
             spectrum(8, 1, source_id=4, source_type="EXTENDED", source_xpos=11.0, source_ypos=21.0,
                      source_ra=1.1, source_dec=2.1)]
    group = sp.WFSSSpectra.from_spectra(specs, spectral_order=1, group_id="jw01234003001_02101_00001_1",
                                        filename="a_cal.fits", dispersion_direction=1,
                                        cutouts=[(1, 2, 30, 12), (5, 6, 40, 17)], exposure_time=100.0)
    path = sp.write_wfss_x1d(tmp_path / "w_x1d.fits", primary("NRC_WFSS", INSTRUME="NIRCAM", DETECTOR="NRCALONG"),
                             [group])
    back = sp.read_wfss_x1d(path).spectra[0]
    np.testing.assert_array_equal(back.source(1).flux, specs[1].flux)
    np.testing.assert_array_equal(back.source(0).flux, specs[0].flux)
    assert back.source_type == ("POINT", "EXTENDED") and back.group_id == group.group_id
    model = open_clean(path, dm.WFSSMultiSpecModel)
    table = model.spec[0].spec_table
    assert len(table.columns) == 29 and len(table) == 2
    assert np.isnan(table["FLUX"][0][5:]).all()
    assert model.spec[0].group_id == group.group_id and model.spec[0].spectral_order == 1


def test_c1d_round_trip_and_stdatamodels(tmp_path):
    n = 5
    c1d = sp.CombinedSpectrum(wavelength=np.linspace(5, 6, n), flux=np.ones(n), error=np.ones(n) * 0.1,
                              surf_bright=np.ones(n), sb_error=np.ones(n), dq=np.zeros(n, np.uint32),
                              weight=np.full(n, 2.0), n_input=np.full(n, 2.0), source_id=1, spectral_order=1)
    other = sp.CombinedSpectrum(**{**{k: getattr(c1d, k) for k in ("wavelength", "flux", "error", "surf_bright",
                                                                   "sb_error", "dq", "weight", "n_input")}},
                                source_id=1, spectral_order=2)
    path = sp.write_c1d(tmp_path / "a_c1d.fits", primary(), [c1d, other])
    back = sp.read_c1d(path).spectra
    np.testing.assert_array_equal(back[0].weight, c1d.weight)
    assert back[0].source_id == 1 and back[1].spectral_order == 2
    model = open_clean(path, dm.MultiCombinedSpecModel)
    np.testing.assert_array_equal(model.spec[0].spec_table["WAVELENGTH"], c1d.wavelength)
    assert [s.spectral_order for s in model.spec] == [1, 2]


def simple_wcs():
    from astropy.modeling import models
    from gwcs import coordinate_frames as cf
    from gwcs.wcs import WCS

    det = cf.Frame2D(name="detector", axes_order=(0, 1))
    out = cf.CoordinateFrame(naxes=3, axes_type=("SPATIAL", "SPATIAL", "SPECTRAL"), axes_order=(0, 1, 2),
                             name="world", axes_names=("x", "y", "lam"))
    transform = models.Mapping((0, 1, 1)) | models.Shift(1) & models.Shift(2) & models.Polynomial1D(1, c0=5, c1=0.1)
    return WCS([(det, transform), (out, None)])


@pytest.mark.parametrize("nint", [0, 2])
def test_slit_round_trip_and_stdatamodels(tmp_path, nint):
    shape = (nint, 6, 4) if nint else (6, 4)
    rng = np.random.default_rng(2)
    slit = sp.SlitImage(data=rng.random(shape).astype(np.float32), err=np.ones(shape, np.float32),
                        dq=np.zeros(shape, np.uint32), var_poisson=np.ones(shape, np.float32),
                        var_rnoise=np.ones(shape, np.float32), var_flat=np.zeros(shape, np.float32),
                        wavelength=np.tile(np.linspace(5, 10, 6)[:, None], (1, 4)).astype(np.float32),
                        pathloss_point=np.ones((6, 4), np.float32), name="MIR_LRS-FIXEDSLIT",
                        source_type="POINT", xstart=1, ystart=1, xsize=4, ysize=6, dispersion_direction=2,
                        sci_header=fits.Header({"PIXAR_SR": 2.8e-13}), wcs=simple_wcs())
    path = sp.write_slit(tmp_path / "s_cal.fits", primary(), slit)
    back = sp.read_slit(path).slits[0]
    np.testing.assert_array_equal(back.data, slit.data)
    np.testing.assert_array_equal(back.wavelength, slit.wavelength)
    assert back.name == slit.name and back.sci_header["PIXAR_SR"] == 2.8e-13
    assert back.wcs(1, 2)[2] == pytest.approx(5.2)
    model = open_clean(path, dm.SlitModel)
    assert model.data.shape == shape and model.name == "MIR_LRS-FIXEDSLIT"
    assert model.meta.photometry.pixelarea_steradians == 2.8e-13
    assert model.meta.wcsinfo.dispersion_direction == 2
    assert model.meta.wcs(1, 2)[2] == pytest.approx(5.2)
    np.testing.assert_array_equal(model.pathloss_point, slit.pathloss_point)


def test_multislit_round_trip_and_stdatamodels(tmp_path):
    slits = []
    for i, (ny, nx) in enumerate([(5, 20), (7, 30)], start=1):
        slits.append(sp.SlitImage(data=np.full((ny, nx), float(i), np.float32), err=np.ones((ny, nx), np.float32),
                                  dq=np.zeros((ny, nx), np.uint32), var_poisson=np.ones((ny, nx), np.float32),
                                  var_rnoise=np.ones((ny, nx), np.float32),
                                  wavelength=np.ones((ny, nx), np.float32), name=str(i), source_id=i,
                                  xstart=10 * i, ystart=5 * i, xsize=nx, ysize=ny, dispersion_direction=1,
                                  source_type="POINT", wcs=simple_wcs() if i == 2 else None))
    path = sp.write_multislit(tmp_path / "m_cal.fits", primary("NRC_WFSS", INSTRUME="NIRCAM", DETECTOR="NRCALONG"),
                              slits)
    back = sp.read_multislit(path).slits
    assert [s.name for s in back] == ["1", "2"] and back[1].data.shape == (7, 30)
    assert back[0].wcs is None and back[1].wcs(0, 3)[2] == pytest.approx(5.3)
    model = open_clean(path, dm.MultiSlitModel)
    assert [s.source_id for s in model.slits] == [1, 2] and model.slits[1].xstart == 20
    assert model.slits[1].meta.wcs(0, 3)[2] == pytest.approx(5.3)


def test_parquet_rows():
    s = spectrum(4, 0, name="A", source_id=2, spectral_order=1)
    table = sp.spectrum_rows("p_x1d", s)
    assert table.num_rows == 4 and table.schema == sp.SPECTRA_SCHEMA
    assert table.column("flux").to_pylist() == list(s.flux)
    tso = sp.TSOSpectra.from_spectra([s, s], np.array([1, 2]), {"mjd_avg": np.array([5.0, 6.0])})
    rows = sp.tso_rows("p_x1dints", tso)
    assert rows.num_rows == 8 and rows.column("int_num").to_pylist() == [1] * 4 + [2] * 4
    assert rows.column("mjd_avg").to_pylist()[4] == 6.0


def test_bad_shapes_raise():
    s = spectrum(4)
    with pytest.raises(ValueError, match="one shape"):
        sp.Spectrum.from_columns({**{c: s.column(c) for c, _ in SPEC_COLUMNS}, "FLUX": np.ones(3)})
    with pytest.raises(ValueError, match="2-D or 3-D"):
        sp.SlitImage(data=np.ones(3), err=np.ones(3), dq=np.zeros(3, np.uint32))


def test_integration_times_from_int_times():
    names = ("integration_number,int_start_MJD_UTC,int_mid_MJD_UTC,int_end_MJD_UTC,int_start_BJD_TDB,"
             "int_mid_BJD_TDB,int_end_BJD_TDB")
    n = np.arange(1, 11)
    table = np.rec.fromarrays([n.astype(np.int32)] + [n * 1.0 + k / 10 for k in range(6)], names=names)
    int_num, times = sp.integration_times(table, 3, integration_start=5)  # a segment: ints 5..7
    np.testing.assert_array_equal(int_num, [5, 6, 7])
    np.testing.assert_array_equal(times["mjd_avg"], [5.1, 6.1, 7.1])
    np.testing.assert_array_equal(times["tdb_end"], [5.5, 6.5, 7.5])
    int_num, times = sp.integration_times(table, 3, integration_start=9)  # beyond the table
    np.testing.assert_array_equal(int_num, [9, 10, 11])
    assert np.isnan(times["mjd_avg"]).all()
