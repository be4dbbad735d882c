"""The MIRI LRS simulator (streamcal.sim.spectra): fixed-slit nod pairs and a slitless transit,
rendered through the pipeline's own trace model and photon budget -- a box sum of the
noise-free rate, flat-fielded and converted with the synthetic PHOTOM (and PATHLOSS), gives
the truth spectrum back; the trace lies where the WCS puts it."""

from __future__ import annotations

import numpy as np
import pytest

from streamcal.detectors import DETECTORS
from streamcal.refs import ReferenceSet, synth_lrs
from streamcal.refs.synth_stage2 import pixel_area_sr
from streamcal.sim import ExposureConfig, read_transit_truth, simulate_exposure
from streamcal.sim import spectra
from streamcal.wcs import pointing_from_header
from streamcal.wcs.lrs import LrsSpecwcs, lrs_wcs

DET = DETECTORS["MIRIMAGE"]
TARGET = (80.4876, -69.4983)
#: Rows whose wavelength lies inside the band (the table ends are where the spline is least
#: constrained and the row band is cut).
BAND = (4.6, 13.9)
#: Half width of the extraction box, pixels: > 3.5 sigma of the PSF at 14 um (sigma 1.8 px).
HALF_BOX = 8


@pytest.fixture(scope="module")
def refs(tmp_path_factory) -> ReferenceSet:
    return ReferenceSet(cache_dir=tmp_path_factory.mktemp("lrsrefs"))


@pytest.fixture(scope="module")
def nods(refs):
    base = ExposureConfig(detector="MIRIMAGE", exp_type="MIR_LRS-FIXEDSLIT", ngroups=2, target_ra=TARGET[0],
                          target_dec=TARGET[1], roll=30.0, cosmic_ray_rate=0.0)
    return [simulate_exposure(c, refs) for c in spectra.nod_pair(base)]


@pytest.fixture(scope="module")
def slitless(refs):
    config = ExposureConfig(detector="MIRIMAGE", exp_type="MIR_LRS-SLITLESS", subarray="SLITLESSPRISM", ngroups=3,
                            nints=50, target_ra=TARGET[0], target_dec=TARGET[1], roll=30.0, cosmic_ray_rate=0.0,
                            transit_depth=0.01)
    return simulate_exposure(config, refs)


def wcs_of(exposure, refs):
    meta = exposure.meta
    spec = LrsSpecwcs.from_refdata(refs.get("specwcs", meta))
    return lrs_wcs(pointing_from_header(exposure.hdul["SCI"].header), refs.get("distortion", meta).tree["model"],
                   spec, meta.exp_type, (meta.substrt1, meta.substrt2), (meta.subsize1, meta.subsize2))


def extracted(exposure, refs):
    """(wavelength, flux Jy, truth Jy) per usable row: box sum of the source's noise-free rate /
    FLAT x PHOTMJSR RELRESPONSE x PIXAR_SR x 1e6 (x PATHLOSS correction for the slit)."""
    meta, truth = exposure.meta, exposure.truth
    flat = refs.get("flat", meta).arrays["SCI"]
    rate = truth.spectrum.source_rate_dn.astype(np.float64)
    wcs = wcs_of(exposure, refs)
    ny = rate.shape[0]
    x0 = int(round(truth.spectrum.source_x))
    lam = np.asarray(wcs(np.full(ny, truth.spectrum.source_x), np.arange(ny, dtype=float), with_bounding_box=False)[2])
    cols = slice(x0 - HALF_BOX, x0 + HALF_BOX + 1)
    box = (rate[:, cols] / flat[:, cols]).sum(axis=1)
    usable = np.all(np.isfinite(flat[:, cols]) & (rate[:, cols] > 0), axis=1) & (lam > BAND[0]) & (lam < BAND[1])
    flux = box * synth_lrs.conversion_mjsr(DET, lam) * pixel_area_sr(DET) * 1e6
    if meta.exp_type == "MIR_LRS-FIXEDSLIT":
        flux = flux / synth_lrs.slit_transmission(lam, 0.0, DET.pixel_scale)
    truth_jy = np.interp(lam, truth.spectrum.wavelength, truth.spectrum.flux_jy)
    return lam[usable], flux[usable], truth_jy[usable]


@pytest.mark.parametrize("mode", ["fs", "slitless"])
def test_box_sum_gives_the_truth_spectrum(mode, nods, slitless, refs):
    """Within 0.2 % over >= 90 % of the rows (the task asks 1-2 %; the budget is exact by
    construction, so the margin left is for what differs on purpose: the remaining rows lie
    on the emission lines, where the row's mean F_nu differs from F_nu at the row centre by up
    to a few %, and at the table ends where the spline smooths lambda(y)); median within 0.05 %."""
    exposure = nods[0] if mode == "fs" else slitless
    _, flux, truth = extracted(exposure, refs)
    assert len(flux) > 250
    assert np.mean(np.abs(flux / truth - 1) < 0.002) >= 0.9
    assert np.mean(np.abs(flux / truth - 1) < 0.02) >= 0.98
    assert abs(np.median(flux / truth) - 1) < 5e-4


def test_trace_lies_where_the_wcs_puts_it(nods, slitless, refs):
    """The cross-dispersion centroid of the source in the row of a wavelength is the WCS's x
    for that row's wavelength, within 0.05 px (the profile is a pixel-integrated Gaussian, so
    its centroid is the centre up to the box truncation, < 1e-3 px)."""
    for exposure in (*nods, slitless):
        wcs = wcs_of(exposure, refs)
        truth = exposure.truth
        image = truth.spectrum.source_rate_dn
        flat = refs.get("flat", exposure.meta).arrays["SCI"]
        for wavelength in (5.0, 7.5, 10.0, 13.0):
            _, y = wcs.invert(*TARGET, wavelength, with_bounding_box=False)
            row = int(round(float(y)))
            lam_row = wcs(truth.spectrum.source_x, float(row), with_bounding_box=False)[2]
            x_wcs, _ = wcs.invert(*TARGET, lam_row, with_bounding_box=False)
            cols = np.arange(int(x_wcs) - 10, int(x_wcs) + 11)
            profile = image[row, cols] / flat[row, cols]
            assert np.all(np.isfinite(profile))
            centroid = float(np.sum(profile * cols) / np.sum(profile))
            assert abs(centroid - float(x_wcs)) < 0.05, (exposure.meta.exp_type, wavelength)


def test_nod_pair_headers_and_positions(nods):
    """The two nods: ALONG-SLIT-NOD 1 and 2, XOFFSET +-1.3", DITH_RA/DITH_DEC at the target
    (jwst's dithered position: the offset from the reference point is where the target is),
    the trace moved by 2 x 1.3" / 0.1108"/px along the slit (0.05 px: the distortion's scale
    differs from the nominal by < 0.2 % over 23 px)."""
    h1, h2 = (n.hdul[0].header for n in nods)
    assert (h1["PATTTYPE"], h1["PATT_NUM"], h2["PATT_NUM"], h1["NUMDTHPT"]) == ("ALONG-SLIT-NOD", 1, 2, 2)
    nod = spectra.DEFAULT_NOD_ARCSEC
    assert (h1["XOFFSET"], h2["XOFFSET"], h1["YOFFSET"]) == (nod, -nod, 0.0)
    assert h1["SRCTYAPT"] == "POINT" and h1["FILTER"] == "P750L" and h1["SUBARRAY"] == "FULL"
    for h in (h1, h2):
        dra = (h["DITH_RA"] - TARGET[0]) * np.cos(np.deg2rad(TARGET[1])) * 3600
        assert np.hypot(dra, (h["DITH_DEC"] - TARGET[1]) * 3600) < 0.01   # arcsec
    dx = nods[0].truth.spectrum.source_x - nods[1].truth.spectrum.source_x
    assert dx == pytest.approx(2 * spectra.DEFAULT_NOD_ARCSEC / DET.pixel_scale, abs=0.05)
    # the same sky in both nods (to the float32 rounding of rates up to ~1e3 DN/s: 1e-3 DN/s)
    np.testing.assert_allclose(nods[0].truth.rate_dn - nods[0].truth.spectrum.source_rate_dn,
                               nods[1].truth.rate_dn - nods[1].truth.spectrum.source_rate_dn, rtol=0, atol=1e-3)


def test_sky_through_the_slit_is_the_documented_surface_brightness(nods, refs):
    """The sky in the slit, calibrated (DN/s / FLAT x PHOTMJSR RELRESPONSE), is slit width (px)
    x B(lambda) MJy/sr, within 0.5 % (the row wavelength of the trace centre is used for the
    whole slit; the trace tilts by < 0.1 px over it); no light under the slit mask beside the
    slit's image, the open field's dispersed sky beyond it."""
    exposure = nods[0]
    truth = exposure.truth
    sky = truth.rate_dn - truth.spectrum.source_rate_dn
    flat = refs.get("flat", exposure.meta).arrays["SCI"]
    wcs = wcs_of(exposure, refs)
    for wavelength in (6.0, 9.0, 12.0):
        _, y = wcs.invert(*TARGET, wavelength, with_bounding_box=False)
        row = int(round(float(y)))
        lam = wcs(synth_lrs.IMX - 1, float(row), with_bounding_box=False)[2]
        cols = np.arange(int(synth_lrs.IMX) - 15, int(synth_lrs.IMX) + 15)
        value = np.nanmedian(sky[row, cols] / flat[row, cols]) * synth_lrs.conversion_mjsr(DET, lam)
        expected = synth_lrs.SLIT_WIDTH_ARCSEC / DET.pixel_scale * spectra.sky_mjysr(lam)
        assert value == pytest.approx(expected, rel=0.005)
    x0 = int(synth_lrs.IMX - synth_lrs.SLIT_HALF_LENGTH_PIX) - 3    # left of the slit's image
    mask = slice(x0 - spectra.SLIT_MASK_MARGIN + 5, x0)
    assert np.all(sky[:400, mask] == 0) and np.all(sky[:30, mask] == 0)
    for open_field in (sky[600:, 10:250], sky[:, 900:1020]):   # away from the reference columns
        assert np.mean(open_field > 0) > 0.999                  # dead pixels collect nothing


def test_slitless_transit_and_truth_files(slitless, tmp_path):
    """NINTS 50 SLITLESSPRISM with a 1 % transit: the transited target is the spectrum's
    source; the truth file carries the spectrum and the transit and reads back."""
    h = slitless.hdul[0].header
    assert (h["NINTS"], h["SUBARRAY"], h["TSOVISIT"]) == (50, "SLITLESSPRISM", True)
    truth = slitless.truth
    assert np.array_equal(truth.transit.target_rate_dn, truth.spectrum.source_rate_dn)
    assert truth.transit.relative_flux.min() == pytest.approx(0.99, abs=1e-9)
    path = slitless.write(tmp_path)
    root = path.name.removesuffix("_uncal.fits")
    spectrum = spectra.read_spectrum_truth(tmp_path / "truth" / f"{root}_truth.fits")
    transit = read_transit_truth(tmp_path / "truth" / f"{root}_truth.fits")
    assert transit.depth == 0.01
    np.testing.assert_array_equal(spectrum.flux_jy, truth.spectrum.flux_jy)
    np.testing.assert_array_equal(spectrum.source_rate_dn, truth.spectrum.source_rate_dn)
    assert (spectrum.source_x, spectrum.source_y) == (truth.spectrum.source_x, truth.spectrum.source_y)
    assert spectra.read_spectrum_truth(tmp_path / "truth" / f"{root}_truth.fits").nod_arcsec == (0.0, 0.0)


def test_spectrum_model_and_errors(refs):
    spectrum = spectra.SourceSpectrum(continuum_mjy=2.0, slope=0.0, lines=((8.0, 1.0, 0.1),))
    assert spectrum.flux_mjy(8.0) == pytest.approx(3.0) and spectrum.flux_jy(5.0) == pytest.approx(2e-3, rel=1e-6)
    with pytest.raises(ValueError, match="nod pair"):
        spectra.nod_pair(ExposureConfig(detector="MIRIMAGE", exp_type="MIR_LRS-SLITLESS"))


def _jwst_rate(exposure, directory):
    """A jwst ImageModel ``_rate`` of the source's noise-free rate with the raw file's metadata."""
    from stdatamodels.jwst import datamodels

    uncal = exposure.write(directory)
    with datamodels.open(str(uncal)) as raw:
        image = datamodels.ImageModel(data=exposure.truth.spectrum.source_rate_dn.astype(np.float32))
        image.update(raw)
        for key in ("ra_ref", "dec_ref", "v2_ref", "v3_ref", "roll_ref", "v3yangle", "vparity"):
            setattr(image.meta.wcsinfo, key, getattr(raw.meta.wcsinfo, key))
        image.meta.velocity_aberration.scale_factor = raw.meta.velocity_aberration.scale_factor
    image.dq = np.zeros(image.data.shape, np.uint32)
    for name in ("err", "var_poisson", "var_rnoise"):
        setattr(image, name, np.zeros_like(image.data))
    rate = directory / uncal.name.replace("_uncal", "_rate")
    image.save(str(rate))
    return rate


@pytest.mark.parametrize("mode", ["fs", "slitless"])
def test_jwst_calibration_returns_the_truth(mode, nods, slitless, refs, tmp_path):
    """jwst 3.0's own assign_wcs, flat_field, srctype, pathloss (slit) and photom with the
    synthetic references, on the source's noise-free rate: the box sum x PIXAR_SR x 1e6 is the
    truth spectrum within 0.2 % over >= 90 % of the rows (as streamcal's own conversion above;
    pathloss finds the source from TARG_RA/TARG_DEC through the WCS)."""
    from jwst.assign_wcs import AssignWcsStep
    from jwst.flatfield import FlatFieldStep
    from jwst.pathloss import PathLossStep
    from jwst.photom import PhotomStep
    from jwst.srctype import SourceTypeStep

    from jwstkit import offline_crds

    exposure = nods[0] if mode == "fs" else slitless
    meta = exposure.meta
    rate = _jwst_rate(exposure, tmp_path)

    def ref(reftype: str) -> str:
        return str(refs.select(reftype, meta))

    unused = ("regions", "wavelengthrange", "camera", "chromcorr", "collimator", "disperser", "fore", "fpa", "msa",
              "ote", "ifupost", "ifufore", "ifuslicer", "filteroffset")
    with offline_crds(tmp_path / "crds"):
        model = AssignWcsStep.call(str(rate), override_distortion=ref("distortion"), override_specwcs=ref("specwcs"),
                                   **{f"override_{n}": "N/A" for n in unused})
        model = FlatFieldStep.call(model, override_flat=ref("flat"), override_fflat="N/A", override_sflat="N/A",
                                   override_dflat="N/A")
        model = SourceTypeStep.call(model)
        if mode == "fs":
            model = PathLossStep.call(model, override_pathloss=ref("pathloss"))
        model = PhotomStep.call(model, override_photom=ref("photom"), override_area="N/A")
    assert model.meta.target.source_type == "POINT" and model.meta.bunit_data == "MJy/sr"
    spectrum = exposure.truth.spectrum
    ny = model.data.shape[0]
    lam = model.meta.wcs(np.full(ny, spectrum.source_x), np.arange(ny, dtype=float))[2]
    cols = slice(int(round(spectrum.source_x)) - HALF_BOX, int(round(spectrum.source_x)) + HALF_BOX + 1)
    box = model.data[:, cols].sum(axis=1) * model.meta.photometry.pixelarea_steradians * 1e6
    usable = np.isfinite(lam) & (lam > BAND[0]) & (lam < BAND[1]) & np.all(np.isfinite(model.data[:, cols]), axis=1)
    ratio = box[usable] / np.interp(lam[usable], spectrum.wavelength, spectrum.flux_jy)
    assert usable.sum() > 250
    assert np.mean(np.abs(ratio - 1) < 0.002) >= 0.9 and abs(np.median(ratio) - 1) < 5e-4


def test_pointing_error_across_the_slit_loses_light(nods, refs):
    """A 0.3" pointing error moves the source off the slit's centre line (beta != 0): the slit
    passes less of it (the loss jwst's pathloss cannot see), by 1-20 % for this seed."""
    base = ExposureConfig(detector="MIRIMAGE", exp_type="MIR_LRS-FIXEDSLIT", ngroups=2, target_ra=TARGET[0],
                          target_dec=TARGET[1], roll=30.0, cosmic_ray_rate=0.0, pointing_error_arcsec=0.3, seed=3)
    off = simulate_exposure(spectra.nod_pair(base)[0], refs)
    ratio = off.truth.spectrum.source_rate_dn.sum() / nods[0].truth.spectrum.source_rate_dn.sum()
    assert 0.8 < ratio < 0.99
