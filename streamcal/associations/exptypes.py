"""Exposure-type tables and optical-path checks of the association rules (facts from jwst 3.0
jwst/associations/lib/dms_base.py)."""

from __future__ import annotations

from .constraints import EMPTY, lookup

ACQ_EXP_TYPES = ("mir_tacq", "mir_taconfirm", "nis_taconfirm", "nis_tacq", "nrc_taconfirm",
                 "nrc_tacq", "nrs_confirm", "nrs_msata", "nrs_taconfirm", "nrs_tacq",
                 "nrs_taslit", "nrs_verify", "nrs_wata")

# EXP_TYPE -> member exptype for everything that is not science.
_BY_KIND = {
    "dark": "mir_darkall mir_darkimg mir_darkmrs nis_dark nrc_dark nrs_dark",
    "flat": "mir_flatimage mir_flatmrs mir_flatimage-ext mir_flatmrs-ext nrc_flat",
    "target_acquisition": "mir_tacq mir_taconfirm nis_tacq nis_taconfirm nrc_tacq "
                          "nrc_taconfirm nrs_confirm nrs_msata nrs_tacq nrs_taconfirm "
                          "nrs_taslit nrs_wata",
    "engineering": "nis_focus nis_lamp nrc_focus nrc_led nrs_focus nrs_image nrs_lamp",
    "autoflat": "nrs_autoflat",
    "autowave": "nrs_autowave",
}
EXPTYPE_MAP = {t: kind for kind, types in _BY_KIND.items() for t in types.split()}

CORON_EXP_TYPES = ("mir_4qpm", "mir_lyot", "nrc_coron")
IMAGE2_SCIENCE_EXP_TYPES = ("fgs_image", "mir_4qpm", "mir_image", "mir_lyot", "nis_ami",
                            "nis_image", "nrc_coron", "nrc_image", "nrs_mimf", "nrc_tsimage")
IMAGE2_NONSCIENCE_EXP_TYPES = ("mir_coroncal", "nis_focus", "nrc_focus", "nrs_focus",
                               "nrs_image") + ACQ_EXP_TYPES
SPEC2_SCIENCE_EXP_TYPES = ("mir_lrs-fixedslit", "mir_lrs-slitless", "mir_mrs", "mir_wfss",
                           "nis_soss", "nis_wfss", "nrc_tsgrism", "nrc_wfss", "nrs_fixedslit",
                           "nrs_ifu", "nrs_msaspec", "nrs_brightobj")
LEVEL2B_EXP_TYPES = IMAGE2_SCIENCE_EXP_TYPES + IMAGE2_NONSCIENCE_EXP_TYPES + SPEC2_SCIENCE_EXP_TYPES
TSO_EXP_TYPES = ("nrc_tsimage", "nrc_tsgrism", "nrs_brightobj")
# Science modifiers in priority order: column -> member exptype.
SPECIAL_MODIFIERS = (("is_psf", "psf"), ("is_imprt", "imprint"), ("bkgdtarg", "background"))


def _paths(text: str) -> frozenset:
    return frozenset(tuple(p.split("/")) for p in text.split())


# (slit, grating, filter, detector); slit "a" stands for every slit but S200B1.
NRS_FSS_PATHS = _paths(
    "a/prism/clear/nrs1 a/g395h/f290lp/nrs1 a/g395h/f290lp/nrs2 a/g235h/f170lp/nrs1 "
    "a/g235h/f170lp/nrs2 a/g140h/f100lp/nrs1 a/g140h/f100lp/nrs2 a/g140h/f070lp/nrs1 "
    "a/g395m/f290lp/nrs1 a/g235m/f170lp/nrs1 a/g140m/f100lp/nrs1 a/g140m/f070lp/nrs1 "
    "s200b1/prism/clear/nrs2 s200b1/g395h/f290lp/nrs2 s200b1/g235h/f170lp/nrs2 "
    "s200b1/g140h/f100lp/nrs2 s200b1/g140h/f070lp/nrs1 s200b1/g140h/f070lp/nrs2 "
    "s200b1/g395m/f290lp/nrs2 s200b1/g235m/f170lp/nrs2 s200b1/g140m/f100lp/nrs2 "
    "s200b1/g140m/f070lp/nrs1 s200b1/g140m/f070lp/nrs2")
# (grating, lamp, detector) of fixed-slit lamp exposures.
NRS_FSS_LAMP_PATHS = frozenset(
    (g, lamp, d) for g, lamps in (("prism", "line4 flat5 test"), ("g395h", "flat3 line3"),
                                  ("g235h", "flat2 line2"), ("g140h", "flat1 ref line1 flat4"),
                                  ("g395m", "flat3 line3"), ("g235m", "flat2 line2"),
                                  ("g140m", "flat1 line1 flat4"))
    for lamp in lamps.split() for d in ("nrs1", "nrs2"))
# (grating, filter, detector) of IFU exposures.
NRS_IFU_PATHS = _paths(
    "prism/clear/nrs1 g140m/f070lp/nrs1 g140m/f100lp/nrs1 g235m/f170lp/nrs1 g395m/f290lp/nrs1 "
    "g140h/f070lp/nrs1 g140h/f100lp/nrs1 g140h/f100lp/nrs2 g235h/f170lp/nrs1 "
    "g235h/f170lp/nrs2 g395h/f290lp/nrs1 g395h/f290lp/nrs2")
NIS_SOSS_UNCALIBRATED_FILTERS = ("f277w",)


def get(item: dict, column: str):
    """Defined value of a column; KeyError when missing or 'empty'."""
    return lookup(item, [column], EMPTY)[1]


def _values(item, *columns):
    try:
        return tuple(get(item, c) for c in columns)
    except KeyError:
        return None


def nrsfss_valid_detector(item) -> bool:
    got = _values(item, "fxd_slit", "grating", "filter", "detector")
    if got is None:
        return False
    slit = got[0] if got[0] == "s200b1" else "a"
    return (slit,) + got[1:] in NRS_FSS_PATHS


def nrsifu_valid_detector(item) -> bool:
    if _values(item, "exp_type") != ("nrs_ifu",):
        return True
    got = _values(item, "grating", "filter", "detector")
    return got is not None and got in NRS_IFU_PATHS


def nrslamp_valid_detector(item) -> bool:
    got = _values(item, "detector", "grating", "opmode")
    if got is None:
        return False
    detector, grating, opmode = got
    if opmode == "msaspec":
        return True
    lamp = _values(item, "lamp")
    if opmode not in ("ifu", "fixedslit") or lamp is None:
        return False
    if opmode == "fixedslit":
        return (grating, lamp[0], detector) in NRS_FSS_LAMP_PATHS
    if grating in ("g395h", "g235h"):
        return True
    if grating in ("g395m", "g235m", "g140m", "prism"):
        return detector == "nrs1"
    return grating == "g140h" and not (detector == "nrs2" and lamp[0] == "flat4")


def nrccoron_valid_detector(item) -> bool:
    got = _values(item, "detector", "subarray", "pupil")
    if got is None:
        return False
    detector, subarray, pupil = got
    if subarray != "full":
        return True
    if pupil == "maskbar":
        return detector not in ("nrca1", "nrca2", "nrca3")
    if pupil == "maskrnd":
        return detector not in ("nrca1", "nrca3", "nrca4")
    return True


def nissoss_calibrated_filter(item) -> bool:
    if _values(item, "exp_type") != ("nis_soss",):
        return True
    got = _values(item, "filter")
    return got is not None and got[0] not in NIS_SOSS_UNCALIBRATED_FILTERS


def base_exposure_type(item: dict, default: str = "science") -> str:
    """Member exptype: PNTGTYPE when not science, else EXP_TYPE's kind, else the science
    modifiers IS_PSF / IS_IMPRT / BKGDTARG (jwst dms_base.get_exposure_type)."""
    pntg = _values(item, "pntgtype")
    if pntg is not None and pntg[0] != "science":
        return pntg[0]
    et = _values(item, "exp_type")
    if et is None:
        raise LookupError("Exposure type cannot be determined")
    result = EXPTYPE_MAP.get(et[0], default)
    if result != "science":
        return result
    for column, kind in SPECIAL_MODIFIERS:
        if _values(item, column) is not None:
            return kind
    return result
