"""Synthetic EXTRACT1D references (jwst's JSON format) for MIRI LRS and the NIRCam/NIRISS grisms.

A mode family of :data:`streamcal.refs.generate.MODE_FAMILIES`: ``build`` returns the JSON text,
``ensure`` writes it as ``.json``.  One aperture per file, ``id`` the slit name jwst's
extract_1d looks up (the EXP_TYPE for LRS and NIRCam TSGRISM, ``ANY`` for WFSS cutouts);
limits are 0-based inclusive pixels of the extracted image:

- ``MIR_LRS-FIXEDSLIT`` (the resampled ``s2d``, dispersion along y, the slit ~44 columns
  wide): 8 columns centred on column 22; jwst centres it on the source (``use_source_posn``
  defaults on for LRS point sources).  No background regions: the nods are subtracted in spec2.
- ``MIR_LRS-SLITLESS`` (SLITLESSPRISM ``calints``, 72 columns): 8 columns about the trace
  reference column (IMXSLTL of :mod:`.synth_lrs`), background in columns 11..20 and 55..64,
  fitted as a constant per row.
- ``NRC_TSGRISM``: 9 rows about the middle of the extract_2d cutout (no start/stop: jwst
  centres ``extract_width`` on the cutout), dispersion along x.
- ``NRC_WFSS``/``NIS_WFSS``: the whole cutout.  jwst 3.0 does not read EXTRACT1D for WFSS
  (it extracts the full cutout); the file states the same default for streamcal.
"""

from __future__ import annotations

import json

from ..detectors import Detector
from ..models import ExposureMeta
from . import synthetic as syn
from .synth_lrs import IMXSLTL

__all__ = ["EXP_TYPES", "claims", "file_tag", "build", "is_asdf", "is_json", "apertures"]

#: EXP_TYPE -> (instrument, file tag).
EXP_TYPES = {"MIR_LRS-FIXEDSLIT": ("MIRI", "lrs-fs"), "MIR_LRS-SLITLESS": ("MIRI", "lrs-slitless"),
             "NRC_TSGRISM": ("NIRCAM", "tsgrism"), "NRC_WFSS": ("NIRCAM", "wfss"), "NIS_WFSS": ("NIRISS", "wfss")}
#: SLITLESSPRISM starts at full-frame column 1, so the trace column is IMXSLTL - 1 (0-based).
_SLITLESS_CENTRE = IMXSLTL - 1.0
_HALF_WIDTH = 4.0


def apertures(exp_type: str) -> list[dict]:
    """The aperture list of one EXP_TYPE's file."""
    if exp_type == "MIR_LRS-FIXEDSLIT":
        return [{"id": exp_type, "region_type": "target", "spectral_order": 1, "dispaxis": 2,
                 "xstart": 22.0 - _HALF_WIDTH + 0.5, "xstop": 22.0 + _HALF_WIDTH - 0.5}]
    if exp_type == "MIR_LRS-SLITLESS":
        return [{"id": exp_type, "region_type": "target", "spectral_order": 1, "dispaxis": 2,
                 "xstart": _SLITLESS_CENTRE - _HALF_WIDTH + 0.5, "xstop": _SLITLESS_CENTRE + _HALF_WIDTH - 0.5,
                 "bkg_coeff": [[10.5], [20.5], [54.5], [64.5]], "bkg_fit": "poly", "bkg_order": 0,
                 "use_source_posn": False}]
    if exp_type == "NRC_TSGRISM":
        return [{"id": exp_type, "region_type": "target", "spectral_order": "ANY", "dispaxis": 1,
                 "extract_width": 9, "use_source_posn": False}]
    if exp_type in ("NRC_WFSS", "NIS_WFSS"):
        return [{"id": "ANY", "region_type": "target", "spectral_order": "ANY", "dispaxis": 1,
                 "use_source_posn": False}]
    raise KeyError(f"no synthetic EXTRACT1D apertures for {exp_type}")


def claims(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    """generate.py contract: EXTRACT1D of an exposure of :data:`EXP_TYPES` on its detector."""
    if reftype != "extract1d" or meta is None or meta.exp_type.upper() not in EXP_TYPES:
        return False
    instrument, _ = EXP_TYPES[meta.exp_type.upper()]
    if detector.instrument != instrument:
        return False
    if instrument == "MIRI":
        return detector.name == "MIRIMAGE"
    return instrument != "NIRCAM" or detector.channel == "LONG"


def file_tag(reftype: str, detector: Detector, meta: ExposureMeta) -> str:
    return EXP_TYPES[meta.exp_type.upper()][1]


def is_asdf(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    return False


def is_json(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    return True


def build(reftype: str, detector: Detector, meta: ExposureMeta, name: str) -> str:
    """The JSON text of the file: jwst's top-level keys (reftype, instrument, exp_type ...)
    for selection, and ``apertures``."""
    exp_type = meta.exp_type.upper()
    doc = {"reftype": "EXTRACT1D", "instrument": detector.instrument, "detector": detector.name,
           "telescope": "JWST", "exp_type": f"{exp_type}|", "subarray": "GENERIC",
           "useafter": "2022-01-01T00:00:00", "pedigree": "DUMMY", "filename": name,
           "description": f"streamcal synthetic EXTRACT1D for {exp_type}",
           "author": "streamcal synthetic reference set", "synthver": syn.VERSION,
           "apertures": apertures(exp_type)}
    return json.dumps(doc, indent=1)
