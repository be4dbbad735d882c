"""What to simulate: :class:`ExposureConfig`, checked and completed against the detector
tables by :func:`resolve`, and the primary header of the raw file it becomes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from astropy.io import fits

from .. import router
from ..detectors import (Detector, ReadPattern, Subarray, frame_time, get_detector, get_read_pattern,
                         get_subarray, group_time)
from . import headers
from .spectra import SourceSpectrum

_PREFIX = {"NRC": "NIRCAM", "NIS": "NIRISS", "NRS": "NIRSPEC", "MIR": "MIRI", "FGS": "FGS"}
GUIDE_MODES = {"FGS_ACQ1": ("ACQ1", "128X128"), "FGS_ACQ2": ("ACQ2", "32X32"), "FGS_TRACK": ("TRACK", "32X32"),
               "FGS_FINEGUIDE": ("FINEGUIDE", "8X8"), "FGS_ID-IMAGE": ("ID", "2048X64"),
               "FGS_ID-STACK": ("ID", "2048X64")}
_DEFAULT_READPATT = {"NIRCAM": "RAPID", "NIRISS": "NISRAPID", "NIRSPEC": "NRSRAPID", "MIRI": "FASTR1",
                     "FGS": "FGSRAPID"}
_DISPERSED = ("WFSS", "GRISM", "SOSS", "FIXEDSLIT", "MSASPEC", "IFU", "MRS", "LRS", "BRIGHTOBJ")
_LAMP = ("FLAT", "LED", "LAMP", "AUTOWAVE")
_TSO_TYPES = {e for e, row in router.TABLE.items() if row[0] == router.TSO1}


@dataclass(frozen=True)
class ExposureConfig:
    """What to simulate.  Defaults give a small NIRCam image.

    Attributes
    ----------
    detector, exp_type : str
        DETECTOR and EXP_TYPE (any EXP_TYPE of :data:`streamcal.router.TABLE` whose
        instrument matches the detector).
    subarray : str, optional
        Named subarray (default FULL; guide-star modes: their window).
    readpatt : str, optional
        Readout pattern (default RAPID / NISRAPID / NRSRAPID / FASTR1 / FGSRAPID, guide modes
        their own).
    ngroups, nints : int
    noutputs : int, optional
        Override the subarray's outputs (NIRCam grism TSO: 1 or 4).
    substrt : (int, int), optional
        Move the window (FGS guide-star windows sit anywhere).
    filter, pupil : str, optional
        FILTER/PUPIL (defaults per instrument); the filter sets the PSF width.
    target_ra, target_dec, roll : float
        Pointing: target position (deg) at the window centre, V3 roll (deg).
    dither_offset : (float, float)
        XOFFSET, YOFFSET, arcsec: the target moves by this much on the detector.
    patttype, patt_num, numdthpt : dither pattern keywords.
    program, observation, visit, visitgrp, seq_id, act_id, exposure : int
        Identity (file name and keywords).
    expstart_mjd : float
        Exposure start.
    tsovisit : bool, optional
        Default: True for the TSO EXP_TYPEs.
    seed : int
        Noise, cosmic rays, drifts.
    scene_seed : int, optional
        The sky; default from program/observation/target, so the exposures of a dither
        sequence see the same sources.
    cosmic_ray_rate : float
        Hits per pixel per second (JWST: ~5e-5).
    sky_e : float, optional
        Background, e-/s/pixel (default per instrument and wavelength); MIRI LRS: the sky's
        surface brightness at 10 um, MJy/sr (:mod:`streamcal.sim.spectra`).
    stars_per_arcmin2, galaxies_per_arcmin2 : float
    target_flux_e : float, optional
        Total rate of the target star, e-/s (default per mode; 0 for none).
    bias_drift : bool
        Add NIR reference-pixel drifts.
    pointing_error_arcsec : float
        Size of the random error of the true pointing relative to the header's RA_REF/DEC_REF
        (and roll); recorded in the truth file (:mod:`streamcal.sim.pointing`).
    va_scale : float
        Velocity-aberration scale (VA_SCALE), applied to the sky and written to the header.
    star_count : int, optional
        Field stars over the window (replaces ``stars_per_arcmin2``).
    star_flux_e : (float, float), optional
        Star rates log-uniform in this range, e-/s (default: 10-3e4 with 5 % up to 1e6).
    transit_depth : float
        A planet transits the target star (the ``kind == 'target'`` source at the aperture
        reference, XREF_SCI/YREF_SCI): fractional flux loss at mid-transit, 0 <= depth < 1
        (default 0: no transit, the exposure is byte for byte what it was without these
        fields).  Only the target is dimmed; sky and other sources are not.  Trapezoidal light
        curve, no limb darkening (:mod:`streamcal.sim.transit`); each frame collects the mean
        of the light curve over its own interval.
    transit_mid : float, optional
        Mid-transit, s from the exposure start (default: mid-exposure, DURATION / 2).
    transit_duration : float, optional
        First to fourth contact, s (default: DURATION / 3).
    transit_ingress : float, optional
        First to second contact (= egress), s, <= transit_duration / 2 (default: a tenth of
        the duration; 0: box-shaped).
    spectrum : SourceSpectrum, optional
        MIRI LRS: the target's spectrum (default :class:`streamcal.sim.spectra.SourceSpectrum`).
    """

    detector: str = "NRCA1"
    exp_type: str = "NRC_IMAGE"
    subarray: str | None = None
    readpatt: str | None = None
    ngroups: int = 5
    nints: int = 1
    noutputs: int | None = None
    substrt: tuple[int, int] | None = None
    filter: str | None = None
    pupil: str | None = None
    target_ra: float = 53.1625
    target_dec: float = -27.7914
    roll: float = 0.0
    dither_offset: tuple[float, float] = (0.0, 0.0)
    patttype: str = "NONE"
    patt_num: int = 1
    numdthpt: int = 1
    program: int = 1234
    observation: int = 1
    visit: int = 1
    visitgrp: int = 2
    seq_id: int = 1
    act_id: int = 1
    exposure: int = 1
    expstart_mjd: float = 60676.0
    tsovisit: bool | None = None
    seed: int = 0
    scene_seed: int | None = None
    cosmic_ray_rate: float = 5e-5
    sky_e: float | None = None
    stars_per_arcmin2: float = 60.0
    galaxies_per_arcmin2: float = 300.0
    target_flux_e: float | None = None
    bias_drift: bool = True
    pointing_error_arcsec: float = 0.0
    va_scale: float = 1.0
    star_count: int | None = None
    star_flux_e: tuple[float, float] | None = None
    targname: str = "SIMULATED-FIELD"
    transit_depth: float = 0.0
    transit_mid: float | None = None
    transit_duration: float | None = None
    transit_ingress: float | None = None
    #: A coronagraphic scene (:class:`streamcal.sim.coron.CoronScene`) added to the illumination.
    coron: object | None = None
    spectrum: SourceSpectrum | None = None


@dataclass
class Setup:
    """A config resolved against the detector tables."""

    config: ExposureConfig
    detector: Detector
    subarray: Subarray
    pattern: ReadPattern
    timing: headers.Timing
    kind: str
    filter: str
    pupil: str
    tsovisit: bool


def exposure_kind(exp_type: str) -> str:
    """'dark', 'lamp', 'guider', 'dispersed' or 'image' -- what the detector sees."""
    suffix = exp_type.split("_", 1)[1]
    if exp_type in GUIDE_MODES:
        return "guider"
    if "DARK" in suffix:
        return "dark"
    if any(word in suffix for word in _LAMP):
        return "lamp"
    if any(word in suffix for word in _DISPERSED):
        return "dispersed"
    return "image"


def _default_optics(det: Detector, kind: str, exp_type: str) -> tuple[str, str]:
    if det.instrument == "NIRCAM":
        filt = "F200W" if det.channel == "SHORT" else "F444W"
        return filt, "GRISMR" if kind == "dispersed" else "CLEAR"
    if det.instrument == "NIRISS":
        return ("CLEAR", "GR700XD") if exp_type == "NIS_SOSS" else ("CLEAR", "F150W")
    if det.instrument == "MIRI":
        return ("P750L" if "LRS" in exp_type else "F770W"), "N/A"
    if det.instrument == "NIRSPEC":
        return "CLEAR", "N/A"
    return "N/A", "N/A"


def optical_path_cards(det: Detector, filter_name: str, pupil: str) -> dict:
    """MODULE, CHANNEL, FILTER and PUPIL as the archive writes them: only the ones the
    instrument has (real FGS headers have none of the four, MIRI imager, NIRISS and NIRSpec
    ones no MODULE or CHANNEL, MIRI and NIRSpec no PUPIL).  An "N/A" card is not written:
    jwst's schema has no "N/A" MODULE, and readers take an absent element as "N/A" anyway.

    >>> from streamcal.detectors import DETECTORS
    >>> optical_path_cards(DETECTORS["GUIDER1"], "N/A", "N/A")
    {}
    >>> optical_path_cards(DETECTORS["NRCA1"], "F200W", "CLEAR")
    {'MODULE': 'A', 'CHANNEL': 'SHORT', 'FILTER': 'F200W', 'PUPIL': 'CLEAR'}
    """
    cards = {"MODULE": det.module, "CHANNEL": det.channel, "FILTER": filter_name, "PUPIL": pupil}
    return {key: value for key, value in cards.items() if str(value).strip().upper() not in ("", "N/A")}


def resolve(config: ExposureConfig) -> Setup:
    """Check a config and fill in the defaults.

    Raises
    ------
    ValueError
        Unknown detector/subarray/pattern, EXP_TYPE not routed, or an EXP_TYPE of another
        instrument.
    """
    try:
        det = get_detector(config.detector)
        exp_type = config.exp_type.strip().upper()
        if exp_type not in router.TABLE:
            raise KeyError(f"EXP_TYPE {exp_type!r} is not in the routing table")
        if _PREFIX.get(exp_type.split("_", 1)[0]) != det.instrument:
            raise KeyError(f"EXP_TYPE {exp_type} is not an exposure type of {det.instrument} ({det.name})")
        guide = GUIDE_MODES.get(exp_type)
        readpatt = config.readpatt or (guide[0] if guide else _DEFAULT_READPATT[det.instrument])
        sub = get_subarray(det, config.subarray or (guide[1] if guide else "FULL"),
                           noutputs=config.noutputs, start=config.substrt)
        pattern = get_read_pattern(det.instrument, readpatt)
        tframe = frame_time(det, sub, pattern.name)
    except KeyError as exc:
        raise ValueError(exc.args[0]) from None
    if config.ngroups < 1 or config.nints < 1:
        raise ValueError("ngroups and nints must be >= 1")
    if not 0.0 <= config.transit_depth < 1.0:
        raise ValueError(f"transit_depth must be in [0, 1), got {config.transit_depth}")
    timing = headers.Timing(tframe, group_time(tframe, pattern), pattern.nframes, pattern.groupgap,
                            config.ngroups, config.nints, config.expstart_mjd)
    kind = exposure_kind(exp_type)
    filt, pupil = _default_optics(det, kind, exp_type)
    tso = exp_type in _TSO_TYPES if config.tsovisit is None else config.tsovisit
    return Setup(replace(config, exp_type=exp_type), det, sub, pattern, timing, kind,
                 config.filter or filt, config.pupil or pupil, tso)


# ------------------------------------------------------------------------------- headers

def primary_header(s: Setup) -> fits.Header:
    """The primary header of the raw file."""
    c, det = s.config, s.detector
    if s.kind == "guider":
        name = headers.guider_filename(c.program, c.observation, c.visit, c.exp_type, c.expstart_mjd)
    else:
        name = headers.exposure_filename(c.program, c.observation, c.visit, c.visitgrp, c.seq_id,
                                         c.act_id, c.exposure, det.name)
    visit_id = f"{c.program:05d}{c.observation:03d}{c.visit:03d}"
    hdr = fits.Header()
    cards = {
        "DATE": headers.iso_time(s.timing.mjd(s.timing.duration))[:23], "ORIGIN": "STREAMCAL",
        "FILENAME": name, "DATAMODL": "Level1bModel", "TELESCOP": "JWST", "SDP_VER": "streamcal-sim",
        "PROGRAM": f"{c.program:05d}", "OBSERVTN": f"{c.observation:03d}", "VISIT": f"{c.visit:03d}",
        "VISITGRP": f"{c.visitgrp:02d}", "SEQ_ID": str(c.seq_id), "ACT_ID": f"{c.act_id:02d}",
        "EXPOSURE": str(c.exposure), "VISIT_ID": visit_id,
        "OBS_ID": f"V{visit_id}P{0:010d}{c.visitgrp:02d}{c.seq_id:1d}{c.act_id:02d}",
        "EXPRIPAR": "PRIME", "TSOVISIT": s.tsovisit, "TARGPROP": c.targname, "TARGNAME": c.targname,
        "TARGTYPE": "FIXED", "TARG_RA": c.target_ra, "TARG_DEC": c.target_dec,
        "INSTRUME": det.instrument, "DETECTOR": det.name, **optical_path_cards(det, s.filter, s.pupil),
        "EXP_TYPE": c.exp_type, "EXPCOUNT": c.exposure,
        "ZEROFRAM": False, "DATAPROB": False, "SCA_NUM": headers.SCA_NUM[det.name],
        **headers.readout_cards(det, s.pattern, s.timing), **headers.subarray_cards(det, s.subarray),
        "PATTTYPE": c.patttype, "PATT_NUM": c.patt_num, "NUMDTHPT": c.numdthpt,
        # One exposure per dither point: what an association needs to know it is complete.
        "NEXPOSUR": c.numdthpt, "VISITYPE": "PRIME_TARGETED_FIXED",
        "XOFFSET": float(c.dither_offset[0]), "YOFFSET": float(c.dither_offset[1]),
        "APERNAME": f"{det.name}_{s.subarray.name}", "SIMULATE": (True, "simulated by streamcal.sim"),
        "SIMSEED": (c.seed, "noise seed of the simulation"),
    }
    if det.instrument == "NIRSPEC":
        cards["GRATING"] = "PRISM" if s.kind == "dispersed" else "MIRROR"
    for key, value in cards.items():
        hdr[key] = value
    return hdr
