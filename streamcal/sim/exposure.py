"""Simulate one raw exposure (``_uncal.fits``) of any detector, subarray and EXP_TYPE, with truth.

Signal chain (the inverse of stage 1, jwst_spec §3):

1. scene in e-/s/pixel: sky + stars + galaxies through a TAN WCS (or dispersed traces, lamp
   light, darkness, a guide star -- by EXP_TYPE), times the FLAT the reference set selects for
   the exposure (imagers per filter, FGS, NIRSpec imaging; 1 where none applies, e.g. NIRSpec
   spectroscopy), zero on dead and reference pixels;
2. + dark current, e-/s, from the DARK reference file (slope of its frames x gain);
3. :func:`streamcal.sim.ramps.simulate_ramps`: Poisson charge, per-frame read noise (CDS read
   noise / sqrt 2 x gain), cosmic rays -> electrons per group;
4. / gain -> linear DN; MIRI: + bias pedestal (its linearity works on raw DN);
5. non-linearity: raw F solving the LINEARITY polynomial; hard ceiling above SATURATION;
6. NIR: + superbias + reference-pixel drifts (amplifier, odd/even, 1/f rows); MIRI: + reset
   anomaly from the RESET file;
7. 16-bit ADC -> uint16, stored as int16 + BZERO 32768 as the archive does.

Truth (what stage 1 should recover): the **rate in DN/s of sky + sources** (no dark: the
pipeline subtracts it), pixel by pixel, = scene e-/s x flat / gain; plus the cosmic rays, the
groups jwst should flag as jumps, the first saturated group and the source list.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from astropy.io import fits
from astropy.modeling import Model
from astropy.table import Table

from .. import dqflags
from ..fitsio import atomic_write
from ..models import ExposureMeta
from ..refs import synthetic as syn
from ..wcs import filter_offset
from . import headers, scene
from . import pointing as sim_pointing
from . import spectra
from . import coron as sim_coron
from . import transit as sim_transit
from .config import ExposureConfig, Setup, primary_header, resolve
from .electronics import BiasDrift, raw_ceiling, raw_from_linear, to_uint16
from .ramps import simulate_ramps
from .truth import ExposureTruth, TransitTruth

if TYPE_CHECKING:
    from ..refs import ReferenceSet


def default_refs() -> ReferenceSet:
    """The synthetic reference set (imported here: :mod:`streamcal.refs` builds some synthetic
    files with the simulator's optics, so a module-level import would be circular)."""
    from ..refs import ReferenceSet

    return ReferenceSet()


#: The sky of an observation is drawn over the window plus this margin, independent of the
#: dither offset, so every exposure of a dither sequence sees the same sources (offsets up to
#: the arcsec margin bring new sources into view; beyond it the field edge is empty).
SCENE_MARGIN_PIX, SCENE_MARGIN_ARCSEC = 20.0, 5.0

# --------------------------------------------------------------------------- detector state

@dataclass
class DetectorArrays:
    """Everything the simulator needs of the detector, cut to the window (float32 unless noted)."""

    gain: np.ndarray
    readnoise_cds: np.ndarray
    bias: np.ndarray
    coeffs: np.ndarray
    saturation: np.ndarray
    dark_dn_per_s: np.ndarray
    dead: np.ndarray            # bool
    reference: np.ndarray       # bool
    flat: np.ndarray
    reset: np.ndarray | None    # MIRI (nints, ngroups, ny, nx) raw DN


def _ref(refs: ReferenceSet, reftype: str, meta: ExposureMeta, ext: str = "SCI") -> np.ndarray | None:
    ref = refs.get(reftype, meta)
    return None if ref is None else ref.arrays.get(ext)


def _dark_slope(refs: ReferenceSet, meta: ExposureMeta) -> np.ndarray | None:
    ref = refs.get("dark", meta)
    if ref is None or "SCI" not in ref.arrays:
        return None
    sci = ref.arrays["SCI"]
    frames = sci[-1] if sci.ndim == 4 else sci  # MIRI: the last dark integration
    tframe = float(ref.header.get("TFRAME", meta.tframe)) or meta.tframe
    span = (frames.shape[0] - 1) * tframe
    slope = (frames[-1].astype(np.float64) - frames[0]) / span if span > 0 else np.zeros(frames.shape[1:])
    return np.nan_to_num(slope, nan=0.0).clip(min=0.0)


def detector_arrays(s: Setup, meta: ExposureMeta, refs: ReferenceSet) -> DetectorArrays:
    """The detector the exposure was taken with, from the reference set (synthetic values
    where a reference type is not available)."""
    det, win = s.detector, s.subarray.window()
    nom = syn.nominal(det)
    shape = s.subarray.shape

    def pick(value, default):
        return np.asarray(value, dtype=np.float32) if value is not None else np.full(shape, default, np.float32)

    mask = _ref(refs, "mask", meta, "DQ")
    mask = np.zeros(shape, np.uint32) if mask is None else mask
    coeffs = _ref(refs, "linearity", meta, "COEFFS")
    if coeffs is None:
        coeffs = np.zeros((2,) + shape, np.float32)
        coeffs[1] = 1.0
    bias = syn.bias(det)[win] if det.is_miri else _ref(refs, "superbias", meta)
    flat = _ref(refs, "flat", meta)
    flat = np.ones(shape, np.float32) if flat is None else np.where(np.isfinite(flat) & (flat > 0), flat, 1.0)
    dark = _dark_slope(refs, meta)
    return DetectorArrays(
        gain=pick(_ref(refs, "gain", meta), nom.gain), readnoise_cds=pick(_ref(refs, "readnoise", meta), nom.readnoise_cds),
        bias=np.nan_to_num(pick(bias, nom.bias)), coeffs=coeffs,
        saturation=pick(_ref(refs, "saturation", meta), np.nan),
        dark_dn_per_s=pick(dark, 0.0), dead=(mask & dqflags.DEAD) != 0,
        reference=det.reference_pixel_mask()[win], flat=flat.astype(np.float32),
        reset=_ref(refs, "reset", meta) if det.is_miri else None)


# ------------------------------------------------------------------------------------ scene

def _scene_seed(c: ExposureConfig) -> int:
    if c.scene_seed is not None:
        return c.scene_seed
    key = f"{c.program}/{c.observation}/{c.target_ra:.6f}/{c.target_dec:.6f}/{c.detector}/{c.subarray}"
    return zlib.crc32(key.encode())


def wcs_references(s: Setup, meta: ExposureMeta, refs: ReferenceSet) -> tuple[Model, tuple[float, float]]:
    """The distortion transform and filter offset the pipeline's assign_wcs will use for this
    exposure (the same reference files), so the scene is rendered through the same model; a
    distortion-free stand-in where the set has no imaging distortion (MIRI MRS detectors)."""
    det = s.detector
    ref = refs.get("distortion", meta)
    model = (ref.tree or {}).get("model") if ref is not None else None
    if model is None or getattr(model, "n_inputs", 0) != 2 or getattr(model, "n_outputs", 0) != 2:
        model = sim_pointing.fallback_distortion(det.pixel_scale, det.shape, *headers.aperture_reference(det))
    offsets = refs.get("filteroffset", meta)
    offset = filter_offset(offsets.tree.get("filters", []), s.filter, s.pupil) if offsets and offsets.tree else None
    return model, offset or (0.0, 0.0)


def pointing_of(s: Setup, meta: ExposureMeta, refs: ReferenceSet) -> sim_pointing.ExposurePointing:
    """Header and true pointing of the exposure (see :mod:`streamcal.sim.pointing`)."""
    c, sub = s.config, s.subarray
    distortion, offset = wcs_references(s, meta, refs)
    return sim_pointing.exposure_pointing(
        target=(c.target_ra, c.target_dec), roll=c.roll, v3yangle=headers.aperture_reference(s.detector)[2],
        distortion=distortion, substrt=(sub.substrt1, sub.substrt2), shape=sub.shape,
        dither_arcsec=c.dither_offset, filter_offset=offset, error_arcsec=c.pointing_error_arcsec,
        seed=c.seed, pixel_scale=s.detector.pixel_scale, va_scale=c.va_scale,
        ref_pixel=spectra.aperture_pixel(refs, meta) if spectra.is_lrs(c.exp_type) else None)


def _stars_per_arcmin2(c: ExposureConfig, s: Setup) -> float:
    """Star density: ``star_count`` stars over the window when given."""
    if c.star_count is None:
        return c.stars_per_arcmin2
    ny, nx = s.subarray.shape
    return c.star_count / (nx * ny * (s.detector.pixel_scale / 60.0) ** 2)


def illumination(s: Setup, pointing: sim_pointing.ExposurePointing) -> tuple[np.ndarray, Table]:
    """Scene rate, e-/s/pixel (float64, window shape), and the source table with pixel
    positions through the exposure's TRUE WCS (distortion and pointing error included)."""
    c, det, sub = s.config, s.detector, s.subarray
    shape = sub.shape
    crpix = ((sub.subsize1 + 1) / 2.0, (sub.subsize2 + 1) / 2.0)
    wavelength = scene.filter_wavelength_um(s.pupil if s.pupil.startswith("F") else s.filter, det.instrument)
    # sources are drawn on the sky around the target over the window + margin (a TAN frame is
    # enough for that); only their pixel positions go through the real WCS
    nominal = scene.tan_wcs(c.target_ra, c.target_dec, c.roll + pointing.header.v3yangle, det.pixel_scale, crpix)
    rng = np.random.default_rng(_scene_seed(c))
    if s.kind == "dark":
        return np.zeros(shape), _empty_catalog()
    if s.kind == "lamp":
        return scene.lamp_illumination(shape, 200.0, rng), _empty_catalog()
    sky = scene.sky_rate_e(det.instrument, wavelength) if c.sky_e is None else c.sky_e
    field_stars = s.kind != "guider" or c.exp_type.startswith("FGS_ID")
    target = c.target_flux_e if c.target_flux_e is not None else (3e5 if s.kind == "guider" else 2e4)
    catalog = scene.make_catalog(nominal, shape, det.pixel_scale, rng,
                                 stars_per_arcmin2=_stars_per_arcmin2(c, s) if field_stars else 0.0,
                                 galaxies_per_arcmin2=c.galaxies_per_arcmin2 if field_stars else 0.0,
                                 margin_pix=SCENE_MARGIN_PIX + SCENE_MARGIN_ARCSEC / det.pixel_scale,
                                 target_flux_e=target, star_flux_range=c.star_flux_e)
    x, y = scene.source_pixels(catalog, pointing.wcs)
    catalog["x"], catalog["y"] = x, y
    image = render(s, catalog)
    image += sky
    return image, catalog


def _psf_sigma(s: Setup) -> float:
    wavelength = scene.filter_wavelength_um(s.pupil if s.pupil.startswith("F") else s.filter, s.detector.instrument)
    return scene.psf_sigma_pixels(wavelength, s.detector.pixel_scale)


def render(s: Setup, catalog: Table) -> np.ndarray:
    """The sources of ``catalog`` (with pixel columns x, y) on the window, e-/s/pixel, float64:
    PSF-convolved images, or traces for dispersed modes."""
    det = s.detector
    wavelength = scene.filter_wavelength_um(s.pupil if s.pupil.startswith("F") else s.filter, det.instrument)
    sigma = scene.psf_sigma_pixels(wavelength, det.pixel_scale)
    x, y = np.asarray(catalog["x"]), np.asarray(catalog["y"])
    if s.kind == "dispersed":
        return scene.render_traces(catalog, x, y, s.subarray.shape, sigma, axis=0 if det.is_miri else 1)
    return scene.render_sources(catalog, x, y, s.subarray.shape, sigma, det.pixel_scale)


def _empty_catalog() -> Table:
    return Table({"ra": np.zeros(0), "dec": np.zeros(0), "flux_e": np.zeros(0), "kind": np.zeros(0, "U6"),
                  "sigma_major": np.zeros(0), "sigma_minor": np.zeros(0), "theta": np.zeros(0),
                  "x": np.zeros(0), "y": np.zeros(0)})


# ------------------------------------------------------------------------------------ truth

@dataclass
class SimulatedExposure:
    """A simulated raw exposure: the ``_uncal`` HDU list, ready to write, and its truth."""

    hdul: fits.HDUList
    truth: ExposureTruth
    setup: Setup

    @property
    def filename(self) -> str:
        return str(self.hdul[0].header["FILENAME"])

    @property
    def meta(self) -> ExposureMeta:
        return ExposureMeta.from_header(self.hdul[0].header, self.hdul["SCI"].data.shape)

    def write(self, directory: str | Path, truth_dir: str | Path | None = None) -> Path:
        """Write ``<directory>/<FILENAME>`` atomically, and the truth (``<root>_truth.fits`` and
        ``<root>_sources.ecsv``) into ``truth_dir`` (default ``<directory>/truth``, so a
        landing directory holds only raw exposures).  Returns the raw file's path."""
        directory = Path(directory)
        path = atomic_write(self.hdul, directory / self.filename)
        tdir = Path(truth_dir) if truth_dir is not None else directory / "truth"
        tdir.mkdir(parents=True, exist_ok=True)
        root = self.filename.removesuffix(".fits").removesuffix("_uncal")
        atomic_write(self.truth.to_hdulist(self.filename, self.setup.pattern.nframes, self.setup.pattern.groupgap),
                     tdir / f"{root}_truth.fits")
        self.truth.sources.write(tdir / f"{root}_sources.ecsv", format="ascii.ecsv", overwrite=True)
        return path


def write_exposure(exposure: SimulatedExposure, directory: str | Path, truth_dir: str | Path | None = None) -> Path:
    """Write a simulated exposure and its truth; see :meth:`SimulatedExposure.write`."""
    return exposure.write(directory, truth_dir)


# ------------------------------------------------------------------------------- simulation

def simulate_exposure(config: ExposureConfig = ExposureConfig(), refs: ReferenceSet | None = None) -> SimulatedExposure:
    """Simulate one raw exposure.

    Parameters
    ----------
    config : ExposureConfig
    refs : ReferenceSet, optional
        The detector description; default the synthetic set (the one the pipeline uses by
        default, so the pipeline recovers the truth).

    Returns
    -------
    SimulatedExposure

    Raises
    ------
    ValueError
        An impossible configuration (see :func:`resolve`).
    """
    s = resolve(config)
    refs = refs if refs is not None else default_refs()
    header = primary_header(s)
    if s.config.coron is not None:
        header.update(sim_coron.header_cards(s.config.coron))
    meta = ExposureMeta.from_header(header, (s.config.nints, s.config.ngroups) + s.subarray.shape)
    arrays = detector_arrays(s, meta, refs)
    pointing = pointing_of(s, meta, refs)
    live = ~(arrays.dead | arrays.reference)
    lrs = None
    if spectra.is_lrs(s.config.exp_type):  # dispersed through the LRS trace model, not imaged
        lrs = spectra.lrs_scene(s, pointing.truth, meta, refs, wcs_references(s, meta, refs)[0])
        scene_e, catalog = lrs.total_e, lrs.catalog
        header.update(spectra.lrs_cards(s, pointing.header))
    else:
        scene_e, catalog = illumination(s, pointing)
    if s.config.coron is not None:  # the occulted star and its companion (streamcal.sim.coron)
        scene_e = scene_e + sim_coron.render_coron(s.config.coron, s.detector.instrument, s.subarray.shape,
                                                   _psf_sigma(s))
        catalog = sim_coron.add_to_catalog(catalog, sim_coron.coron_rows(s.config.coron, s.subarray.shape,
                                                                         pointing.wcs))
    response = arrays.flat * live if lrs is None else spectra.electron_response(arrays.flat, arrays.gain, s) * live
    rate_e = (scene_e * response).astype(np.float32)
    dark_e = arrays.dark_dn_per_s * arrays.gain * live
    int_times = headers.int_times_table(s.timing)
    variable, transit_truth = transit_signal(s, catalog, response, arrays.gain,
                                             np.asarray(int_times.data["int_mid_MJD_UTC"]),
                                             target_scene=None if lrs is None else lrs.source_e)
    electrons, ramp_truth = simulate_ramps(
        rate_e.astype(np.float64) + dark_e, nints=s.config.nints, ngroups=s.config.ngroups,
        nframes=s.pattern.nframes, groupgap=s.pattern.groupgap, tframe=s.timing.tframe,
        read_noise_e=arrays.readnoise_cds / math.sqrt(2.0) * arrays.gain,
        cr_per_pixel_per_s=s.config.cosmic_ray_rate, rng=np.random.default_rng(s.config.seed),
        variable=variable)
    raw, first_sat = digitize(electrons, arrays, s)
    del electrons
    hdus = [fits.PrimaryHDU(header=header),
            fits.ImageHDU(raw, name="SCI", header=headers.sci_header(
                pointing.header, sim_pointing.tan_cards(pointing.header_wcs, s.subarray.shape), s.timing,
                reference_pixel=target_reference_pixel(s, pointing) if s.tsovisit else None)),
            headers.group_table(s.timing, s.subarray.shape), int_times]
    if s.detector.is_miri:
        hdus.append(_refout(arrays, s))
    truth = ExposureTruth(rate_dn=(rate_e / arrays.gain).astype(np.float32), rate_e=rate_e,
                          dark_dn=(arrays.dark_dn_per_s * live).astype(np.float32), gain=arrays.gain,
                          first_saturated=first_sat, sources=catalog, cosmic_rays=ramp_truth.cosmic_rays,
                          jump_groups=ramp_truth.jump_groups, pointing_cards=pointing.error_cards(),
                          transit=transit_truth,
                          spectrum=None if lrs is None else spectra.spectrum_truth(s, lrs, response,
                                                                                   arrays.gain))
    return SimulatedExposure(fits.HDUList(hdus), truth, s)


def target_reference_pixel(s: Setup, pointing: sim_pointing.ExposurePointing) -> tuple[float, float]:
    """XREF_SCI, YREF_SCI: 1-based pixel of the target (TARG_RA/TARG_DEC) through the header's
    WCS, i.e. where the pointing puts it (the SIAF reference of the archive's headers)."""
    x, y = pointing.header_wcs.invert(s.config.target_ra, s.config.target_dec, with_bounding_box=False)
    return float(x) + 1.0, float(y) + 1.0


def transit_signal(s: Setup, catalog: Table, response: np.ndarray, gain: np.ndarray, int_mid_mjd: np.ndarray,
                   target_scene: np.ndarray | None = None
                   ) -> tuple[tuple[np.ndarray, np.ndarray] | None, TransitTruth | None]:
    """The transited part of the scene and its truth, or (None, None) without a transit.

    Parameters
    ----------
    s : Setup
    catalog : Table
        Sources with pixel positions; the transited star is the one of kind 'target'.
    response : ndarray, (ny, nx)
        Flat x live-pixel mask: what turns scene e-/s into collected e-/s.
    gain : ndarray, (ny, nx)
        e-/DN.
    int_mid_mjd : ndarray, (nints,)
        INT_TIMES int_mid_MJD_UTC.
    target_scene : ndarray (ny, nx), optional
        The target's scene, e-/s/pixel, when it is not rendered from the catalog (MIRI LRS:
        its dispersed spectrum).

    Returns
    -------
    variable : (ndarray (ny, nx) e-/s, ndarray (nints, frames)) or None
        The target's collected rate and each frame's light-curve factor
        (:func:`streamcal.sim.ramps.simulate_ramps`).
    truth : TransitTruth or None
    """
    c = s.config
    transit = sim_transit.transit_of(c.transit_depth, c.transit_mid, c.transit_duration, c.transit_ingress, s.timing)
    if transit is None:
        return None, None
    target = catalog[catalog["kind"] == "target"]
    if len(target) != 1:
        raise ValueError(f"a transit needs the target star (target_flux_e > 0) of an image or dispersed "
                         f"exposure; {c.exp_type} has {len(target)} target(s)")
    target_e = (render(s, target) if target_scene is None else target_scene) * response
    truth = TransitTruth(depth=transit.depth, mid_s=transit.mid_s, duration_s=transit.duration_s,
                         ingress_s=transit.ingress_s, mid_mjd=s.timing.mjd(transit.mid_s),
                         int_mid_mjd=int_mid_mjd, relative_flux=sim_transit.integration_flux(transit, s.timing),
                         target_rate_dn=(target_e / gain).astype(np.float32),
                         target_flux_e=float(target["flux_e"][0]), target_x=float(target["x"][0]),
                         target_y=float(target["y"][0]))
    return (target_e, sim_transit.frame_factors(transit, s.timing)), truth


def digitize(electrons: np.ndarray, a: DetectorArrays, s: Setup) -> tuple[np.ndarray, np.ndarray]:
    """Electrons per group -> raw uint16 DN (steps 4-7 of the module description), one group
    plane at a time; also the first saturated group per integration (-1: none).

    Parameters
    ----------
    electrons : ndarray, float32, (nints, ngroups, ny, nx)
    a : DetectorArrays
    s : Setup

    Returns
    -------
    raw : ndarray, uint16, (nints, ngroups, ny, nx)
    first_saturated : ndarray, int16, (nints, ny, nx)
    """
    nints, ngroups = electrons.shape[:2]
    miri = s.detector.is_miri
    ceiling = raw_ceiling(a.saturation, None if miri else a.bias)
    threshold = np.where(np.isnan(a.saturation), np.inf, a.saturation)
    inv_gain = (1.0 / a.gain).astype(np.float64)
    raw = np.empty(electrons.shape, dtype=np.uint16)
    first = np.full((nints,) + electrons.shape[2:], -1, dtype=np.int16)
    drift = _drift(s)
    for i in range(nints):
        for g in range(ngroups):
            linear = electrons[i, g] * inv_gain
            if miri:
                linear += a.bias
            signal = raw_from_linear(linear, a.coeffs)
            np.minimum(signal, ceiling, out=signal)
            if miri:
                if a.reset is not None and g < a.reset.shape[1]:
                    signal += a.reset[min(i, a.reset.shape[0] - 1), g]
            else:
                signal += a.bias
                if drift is not None:
                    signal += drift.plane()
            raw[i, g] = to_uint16(signal)
            newly = (raw[i, g] >= threshold) & (first[i] < 0)
            first[i][newly] = g
    return raw, first


def _drift(s: Setup) -> BiasDrift | None:
    """The NIR bias drift of an exposure.  Row (1/f) drift only for four-output reads: jwst
    corrects it with the side reference columns of full-width windows, but not in one-output
    subarrays (there only a mean of the reference pixels is subtracted), so there it would make
    the truth unrecoverable by design.  FGS: constant offsets only (no refpix in calwebb_guider)."""
    if s.detector.is_miri or not s.config.bias_drift:
        return None
    sub = s.subarray
    window = (sub.substrt1, sub.substrt2, sub.subsize1, sub.subsize2)
    rng = np.random.default_rng(zlib.crc32(f"drift/{s.config.seed}".encode()))
    if s.detector.instrument == "FGS":
        return BiasDrift(s.detector, window, sub.noutputs, rng, amp_jitter=0.0, parity_jitter=0.0, row_noise=0.0)
    return BiasDrift(s.detector, window, sub.noutputs, rng, row_noise=2.0 if sub.noutputs == 4 else 0.0)


def _refout(a: DetectorArrays, s: Setup) -> fits.ImageHDU:
    """MIRI REFOUT (nints, ngroups, ny, nx/4): the reference output -- bias and read noise."""
    ny, nx = s.subarray.shape
    rng = np.random.default_rng(zlib.crc32(f"refout/{s.config.seed}".encode()))
    level = float(np.median(a.bias))
    noise = float(np.median(a.readnoise_cds)) / math.sqrt(2.0)
    data = rng.normal(level, noise, (s.config.nints, s.config.ngroups, ny, max(nx // 4, 1)))
    return fits.ImageHDU(to_uint16(data), name="REFOUT")
