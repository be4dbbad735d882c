"""Synthetic stage-2 imaging reference files: FLAT per filter, PHOTOM, AREA (jwst FITS layouts).

The simulator multiplies its illumination by the FLAT the reference set selects for the
exposure (detector + FILTER/PUPIL), so flat_field divides exactly that response out again.

NIRSpec gets a FLAT for its imaging EXP_TYPEs only (:data:`NIRSPEC_FLAT_EXP_TYPES`), as in CRDS,
where NIRSpec FLATs are selected by DETECTOR, FILTER, GRATING (MIRROR) and EXP_TYPE: jwst
flat-fields NIRSpec imaging like every imager, while its spectroscopic modes use the three-part
FFLAT/SFLAT/DFLAT, which this set does not make.  Nor does it make a NIRSpec PHOTOM or AREA
(CRDS has none for NIRSpec imaging, so photom is skipped and the ``_cal`` stays in DN/s).

PHOTOM follows from a simple, documented photon budget so that the simulator's e-/s and the
calibrated MJy/sr agree by construction.  A source of surface brightness ``B`` MJy/sr fills a
pixel of solid angle ``Omega`` with ``F_nu = B * 1e6 Jy/sr * Omega``; through a top-hat filter
of fractional width ``R = dlambda / lambda`` the telescope (collecting area ``A``, throughput
``T``) counts ``F_nu * 1e-26 * A * T * R / h`` photons/s (``int dnu / (h nu) = R / h`` for a
top hat), i.e. electrons/s, and ``/ gain`` DN/s.  Hence

``PHOTMJSR = h * gain / (1e-20 * Omega * A * T * R)``   (MJy/sr per DN/s).

With A = 25.4 m^2, T = 0.3, NIRCam F200W (R = 0.23, 0.031"/pix, gain 2.05) gives 3.4.

AREA is the relative pixel-area map implied by the synthetic DISTORTION (the same transform the
WCS and the simulator use): ``|det d(V2,V3)/d(x,y)| / pixel_scale^2``, evaluated by central
differences on a 129 x 129 grid and interpolated with a bicubic spline (the distortion is a
cubic polynomial, so its Jacobian is smooth: interpolation error < 1e-6); PIXAR_SR / PIXAR_A2
of the nominal pixel are in its primary header.
"""

from __future__ import annotations

import re

import numpy as np
from astropy.io import fits

from ..detectors import Detector
from ..models import ExposureMeta
from . import synthetic as syn
from .io import dq_def_hdu

#: Planck constant, J s; collecting area, m^2; overall throughput of the synthetic telescope.
PLANCK_J_S, COLLECTING_AREA_M2, THROUGHPUT = 6.62607015e-34, 25.4, 0.3
#: Arcseconds per radian.
ARCSEC_PER_RAD = 206264.80624709636

#: Imaging rows of the synthetic PHOTOM tables: (FILTER, PUPIL) per instrument (MIRI: the
#: pupil column is SUBARRAY, GENERIC = any).
_NRC_SW = ("F070W", "F090W", "F115W", "F140M", "F150W", "F182M", "F187N", "F200W", "F210M", "F212N", "F150W2")
_NRC_LW = ("F250M", "F277W", "F300M", "F322W2", "F335M", "F356W", "F360M", "F410M", "F430M", "F444W", "F460M",
           "F480M")
PHOTOM_ROWS: dict[str, tuple[tuple[str, str], ...]] = {
    # NIRCam: CLEAR and the coronagraphic Lyot pupils (MASKRND, MASKBAR) for every filter
    "NIRCAM_SHORT": tuple((f, p) for p in ("CLEAR", "MASKRND", "MASKBAR") for f in _NRC_SW)
    + (("F150W2", "F162M"), ("F150W2", "F164N")),
    "NIRCAM_LONG": tuple((f, p) for p in ("CLEAR", "MASKRND", "MASKBAR") for f in _NRC_LW)
    + (("F322W2", "F323N"), ("F444W", "F405N"), ("F444W", "F466N"), ("F444W", "F470N")),
    # NIRISS: imaging (CLEAR / CLEARP) and AMI (the non-redundant mask NRM)
    "NIRISS": tuple(("CLEAR", p) for p in ("F090W", "F115W", "F140M", "F150W", "F158M", "F200W"))
    + tuple((f, "CLEARP") for f in ("F277W", "F356W", "F380M", "F430M", "F444W", "F480M"))
    + tuple((f, "NRM") for f in ("F277W", "F380M", "F430M", "F480M")),
    # MIRI imager: imaging and coronagraphic filters
    "MIRI": tuple((f, "GENERIC") for f in ("F560W", "F770W", "F1000W", "F1130W", "F1280W", "F1500W",
                                             "F1800W", "F2100W", "F2550W", "F1065C", "F1140C", "F1550C",
                                             "F2300C")),
    "FGS": (("N/A", "N/A"),),
}


def _family(detector: Detector) -> str:
    return f"NIRCAM_{detector.channel}" if detector.instrument == "NIRCAM" else detector.instrument


def fractional_width(element: str) -> float:
    """``dlambda / lambda`` of a filter from its name's width letter (W2 0.5, W 0.23, M 0.1,
    N 0.01); 0.5 for FGS's clear optics.

    >>> fractional_width("F150W2"), fractional_width("F200W"), fractional_width("F187N")
    (0.5, 0.23, 0.01)
    """
    match = re.fullmatch(r"F\d{3,4}(W2|W|M|N|LP)?", element.upper())
    kind = match.group(1) if match else "W2"
    return {"W2": 0.5, "W": 0.23, "M": 0.1, "N": 0.01, "LP": 0.23}.get(kind or "W", 0.23)


def pixel_area_sr(detector: Detector) -> float:
    """Nominal pixel solid angle, steradians."""
    return (detector.pixel_scale / ARCSEC_PER_RAD) ** 2


def photmjsr(detector: Detector, filter_name: str, pupil: str) -> float:
    """MJy/sr per DN/s of the synthetic telescope (module formula).  The narrower of FILTER
    and PUPIL (NIRCam/NIRISS put the band-defining element in either) sets the width."""
    widths = [fractional_width(e) for e in (filter_name, pupil) if re.match(r"F\d{3}", e.upper())]
    width = min(widths) if widths else 0.5
    gain = syn.nominal(detector).gain
    return PLANCK_J_S * gain / (1e-20 * pixel_area_sr(detector) * COLLECTING_AREA_M2 * THROUGHPUT * width)


# ------------------------------------------------------------------------------ builders

def flat_tag(detector: Detector, meta: ExposureMeta | None) -> str | None:
    """File-name tag of a per-filter flat (``f200w-clear``); None for FGS (one flat)."""
    if detector.instrument == "FGS" or meta is None:
        return None
    return f"{meta.filter}-{meta.pupil}".lower().replace("/", "")


def filter_flat(detector: Detector, filter_name: str, pupil: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """FLAT SCI, ERR, bad map of a detector through a filter: the detector's pixel response
    (common to every filter, 1 +- 2 %) times a filter-dependent large-scale pattern (+-1.5 %);
    ERR 0.5 %; NaN (unusable) on 1e-4 of the pixels."""
    sci, err, bad = syn.flat(detector)
    key = f"flat/{filter_name.upper()}/{pupil.upper()}"
    sci *= np.float32(1.0) + syn._smooth_field(detector, key, 0.015)  # noqa: SLF001 (shared helper)
    return sci, err, bad


def _flat_selectors(det: Detector, meta: ExposureMeta) -> dict:
    """Selection keywords of a per-filter FLAT.  NIRSpec's (imaging only) also name the
    EXP_TYPEs it serves as a CRDS pattern, so a directory selection never hands it to a
    spectroscopic exposure, and GRATING = MIRROR as the CRDS files (informative: streamcal
    does not select on GRATING)."""
    if det.instrument != "NIRSPEC":
        return {"FILTER": meta.filter, "PUPIL": meta.pupil}
    return {"FILTER": meta.filter, "GRATING": "MIRROR", "EXP_TYPE": NIRSPEC_FLAT_EXP_TYPES[0],
            "P_EXP_TY": "|".join(NIRSPEC_FLAT_EXP_TYPES) + "|"}


def build_flat(det: Detector, meta: ExposureMeta | None):
    """Builder (generate.py contract): FLAT for the exposure's FILTER/PUPIL (FGS: clear)."""
    bits = {"DO_NOT_USE": 1, "NO_FLAT_FIELD": 2}
    if det.instrument == "FGS" or meta is None:
        sci, err, bad = syn.flat(det)
        extra: dict = {}
    else:
        sci, err, bad = filter_flat(det, meta.filter, meta.pupil)
        extra = _flat_selectors(det, meta)
    dq = np.zeros(det.shape, np.uint8)
    dq[bad] = bits["DO_NOT_USE"] | bits["NO_FLAT_FIELD"]
    return "Synthetic flat field", {"SCI": sci, "ERR": err, "DQ": dq}, {"DQ_DEF": dq_def_hdu(bits)}, extra


def photom_table(det: Detector) -> fits.BinTableHDU:
    """The PHOTOM table of a detector in the jwst layout of its instrument."""
    rows = PHOTOM_ROWS[_family(det)]
    values = np.array([photmjsr(det, f, p) for f, p in rows], np.float32)
    cols = []
    if det.instrument in ("NIRCAM", "NIRISS"):
        cols += [fits.Column("filter", "12A", array=[f for f, _ in rows]),
                 fits.Column("pupil", "15A", array=[p for _, p in rows])]
    elif det.instrument == "MIRI":
        cols += [fits.Column("filter", "12A", array=[f for f, _ in rows]),
                 fits.Column("subarray", "15A", array=[p for _, p in rows])]
    cols += [fits.Column("photmjsr", "E", array=values),
             fits.Column("uncertainty", "E", array=0.01 * values)]
    return fits.BinTableHDU.from_columns(cols, name="PHOTOM")


def _pixar(det: Detector) -> dict:
    return {"PIXAR_SR": pixel_area_sr(det), "PIXAR_A2": det.pixel_scale ** 2}


#: The imaging PHOTOM class of each instrument (jwst's photom step opens the file as the class
#: its DATAMODL names, and reads the table only from these).
PHOTOM_MODEL = {"NIRCAM": "NrcImgPhotomModel", "NIRISS": "NisImgPhotomModel", "MIRI": "MirImgPhotomModel",
                "FGS": "FgsImgPhotomModel"}


def build_photom(det: Detector, meta: ExposureMeta | None):
    """Builder: PHOTOM (table only) with PIXAR_SR/PIXAR_A2, DATAMODL the instrument's class."""
    return ("Synthetic photometric calibration", {}, {"PHOTOM": photom_table(det)},
            {**_pixar(det), "DATAMODL": PHOTOM_MODEL[det.instrument]})


def relative_pixel_area(det: Detector, nodes: int = 129) -> np.ndarray:
    """Pixel area / nominal (pixel_scale^2), float32 full frame, from the synthetic distortion
    (module docstring); 1 where the synthetic set has no distortion for the detector."""
    from scipy.interpolate import RectBivariateSpline

    from .synth_wcs import distortion_model, has_wcs_refs

    ny, nx = det.shape
    if not has_wcs_refs(det):
        return np.ones(det.shape, np.float32)
    model = distortion_model(det)
    ys, xs = np.linspace(0, ny - 1, nodes), np.linspace(0, nx - 1, nodes)
    y, x = np.meshgrid(ys, xs, indexing="ij")
    v2x1, v3x1 = model(x + 0.5, y)
    v2x0, v3x0 = model(x - 0.5, y)
    v2y1, v3y1 = model(x, y + 0.5)
    v2y0, v3y0 = model(x, y - 0.5)
    jac = np.abs((v2x1 - v2x0) * (v3y1 - v3y0) - (v3x1 - v3x0) * (v2y1 - v2y0)) / det.pixel_scale ** 2
    spline = RectBivariateSpline(ys, xs, jac, kx=3, ky=3)
    return spline(np.arange(ny), np.arange(nx)).astype(np.float32)


def build_area(det: Detector, meta: ExposureMeta | None):
    """Builder: AREA (relative pixel area) with PIXAR_SR/PIXAR_A2 of the nominal pixel."""
    return "Synthetic pixel area map", {"SCI": relative_pixel_area(det)}, {}, _pixar(det)


#: NIRSpec EXP_TYPEs that jwst 3.0 flat-fields with the plain FLAT (flat_field_step's imaging
#: modes).  NRS_BOTA, routed to image2 by the seed table, is no longer among them: jwst 3.0
#: skips its flat_field, and so does streamcal (no FLAT applies).
NIRSPEC_FLAT_EXP_TYPES = ("NRS_IMAGE", "NRS_CONFIRM", "NRS_FOCUS", "NRS_MIMF", "NRS_MSATA", "NRS_TACONFIRM",
                          "NRS_TACQ", "NRS_TASLIT", "NRS_WATA")
#: Synthetic types that apply to some EXP_TYPEs only: (instrument, reftype) -> EXP_TYPEs.
EXP_TYPE_LIMITS = {("NIRSPEC", "flat"): frozenset(NIRSPEC_FLAT_EXP_TYPES)}


def applies_to(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    """Whether a synthetic type of this detector's instrument serves the exposure's EXP_TYPE
    (:data:`EXP_TYPE_LIMITS`; no limit: every exposure, ``meta`` or not).

    >>> from streamcal.detectors import DETECTORS
    >>> applies_to("flat", DETECTORS["NRS1"], None), applies_to("flat", DETECTORS["NRCA1"], None)
    (False, True)
    """
    allowed = EXP_TYPE_LIMITS.get((detector.instrument, reftype))
    return allowed is None or (meta is not None and meta.exp_type.strip().upper() in allowed)


#: Reference types of this module, the instruments they exist for, their builders.
STAGE2_INSTRUMENTS = frozenset({"NIRCAM", "NIRISS", "MIRI", "FGS"})
BUILDERS = {"flat": build_flat, "photom": build_photom, "area": build_area}
#: Default DATAMODL per type (PHOTOM's builder names its instrument's class, :data:`PHOTOM_MODEL`).
DATAMODELS = {"flat": "FlatModel", "photom": "PhotomModel", "area": "PixelAreaModel"}
#: The types each instrument gets: all of them for the imagers; NIRSpec the FLAT only (for its
#: imaging EXP_TYPEs, :data:`EXP_TYPE_LIMITS`; CRDS has no NIRSpec imaging PHOTOM or AREA).
TYPES = {**{inst: frozenset(BUILDERS) for inst in STAGE2_INSTRUMENTS}, "NIRSPEC": frozenset({"flat"})}
