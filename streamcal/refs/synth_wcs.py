"""Synthetic WCS reference files (ASDF, jwst layout): DISTORTION and FILTEROFFSET.

DISTORTION (jwst ``DistortionModel``): ``meta`` + ``model``, full-frame 0-based detector
pixels -> V2/V3 arcsec (:func:`streamcal.wcs.distortion.polynomial_distortion`), reference
point at the detector centre placed at the aperture's V2/V3
(:data:`streamcal.wcs.apertures.APERTURE`), pixel scale :attr:`Detector.pixel_scale`, and a
realistic small distortion: a quadratic part of 0.5-2 pixels and a radial cubic part of
1-3 pixels at the corners, different for every detector (seeded by its name).

FILTEROFFSET (jwst ``FilteroffsetModel``): ``meta`` + ``filters``, a list of
``{filter, pupil, column_offset, row_offset}`` (pixels; MIRI rows have no pupil) for the
imaging filters of NIRCam, NIRISS and MIRI, offsets within +-0.3 pixel.  FGS and NIRSpec have
no filter offsets (none in jwst either).

NIRSpec: jwst images through NIRSpec with a full optical model (MSA, collimator, ...);
streamcal approximates its imaging-type exposures (NRS_IMAGE, NRS_TACQ, ...) with a distortion
file like the other instruments' (documented approximation: real NIRSpec reference sets have
no DISTORTION type, so with a user reference directory NIRSpec imaging has no WCS).
"""

from __future__ import annotations

import zlib

import numpy as np
from astropy import units as u

from .. import router
from ..detectors import NIR_BORDER, Detector
from ..wcs.apertures import VPARITY, aperture_reference
from ..wcs.distortion import polynomial_distortion

#: NIRCam filters (pupil CLEAR unless a (filter, pupil) pair).
NIRCAM_SW = ("F070W", "F090W", "F115W", "F140M", "F150W", "F150W2", "F182M", "F187N", "F200W", "F210M",
             "F212N", ("F150W2", "F162M"), ("F150W2", "F164N"))
NIRCAM_LW = ("F250M", "F277W", "F300M", "F322W2", "F335M", "F356W", "F360M", "F410M", "F430M", "F444W",
             "F460M", "F480M", ("F322W2", "F323N"), ("F444W", "F405N"), ("F444W", "F466N"), ("F444W", "F470N"))
#: NIRISS imaging: short filters in the pupil wheel (FILTER CLEAR), long ones in the filter wheel.
NIRISS = tuple(("CLEAR", f) for f in ("F090W", "F115W", "F140M", "F150W", "F158M", "F200W")) + tuple(
    (f, "CLEARP") for f in ("F277W", "F356W", "F380M", "F430M", "F444W", "F480M"))
MIRI = ("F560W", "F770W", "F1000W", "F1065C", "F1130W", "F1140C", "F1280W", "F1500W", "F1550C", "F1800W",
        "F2100W", "F2300C", "F2550W", "F2550WR", "FND")
#: Detectors with synthetic WCS files (the imagers; MIRI MRS detectors are spectroscopic only).
IMAGING_INSTRUMENTS = frozenset({"NIRCAM", "NIRISS", "MIRI", "FGS", "NIRSPEC"})
SPECTROSCOPIC_DETECTORS = frozenset({"MIRIFUSHORT", "MIRIFULONG"})
_PREFIX = {"NIRCAM": "NRC_", "NIRISS": "NIS_", "MIRI": "MIR_", "FGS": "FGS_", "NIRSPEC": "NRS_"}


def has_wcs_refs(detector: Detector) -> bool:
    """Whether the synthetic set has distortion files for a detector."""
    return detector.instrument in IMAGING_INSTRUMENTS and detector.name not in SPECTROSCOPIC_DETECTORS


def supported(reftype: str, detector: Detector) -> bool:
    """Whether the synthetic set has a ``reftype`` (distortion, filteroffset) file for a detector."""
    if reftype == "filteroffset":
        return has_wcs_refs(detector) and detector.instrument in ("NIRCAM", "NIRISS", "MIRI")
    return reftype == "distortion" and has_wcs_refs(detector)


def imaging_exp_types(instrument: str) -> tuple[str, ...]:
    """The EXP_TYPEs of an instrument that calwebb_image2 calibrates (the router's table)."""
    return tuple(sorted(e for e, row in router.TABLE.items()
                        if row[1] == router.IMAGE2 and e.startswith(_PREFIX[instrument])))


def _rng(detector: Detector, what: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(f"{what}/{detector.name}".encode()))


def distortion_terms(detector: Detector) -> tuple[dict, dict]:
    """Distortion coefficients (pixels, in pixels from the centre) of a detector: quadratic
    terms giving 0.5-2 pixels at a corner, a radial cubic term giving 1-3 pixels there."""
    rng = _rng(detector, "distortion")
    half = max(detector.shape) / 2.0
    quad = rng.uniform(0.5, 2.0, 6) * rng.choice([-1.0, 1.0], 6) / (3 * half**2)
    k = rng.uniform(1.0, 3.0) * rng.choice([-1.0, 1.0]) / (2 * half**3)
    dx = {"c2_0": quad[0], "c1_1": quad[1], "c0_2": quad[2], "c3_0": k, "c1_2": k}
    dy = {"c2_0": quad[3], "c1_1": quad[4], "c0_2": quad[5], "c0_3": k, "c2_1": k}
    return dx, dy


def valid_area(detector: Detector) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Pixel-edge ``((x0, x1), (y0, y1))`` bounding box a distortion file carries: the MIRI
    imager's leaves out the 4 reference columns on each side, as the CRDS files do (and as
    jwst's assign_wcs assumes for MIRI imaging); the others carry none."""
    if detector.name != "MIRIMAGE":
        return None
    ny, nx = detector.shape
    return (NIR_BORDER - 0.5, nx - NIR_BORDER - 0.5), (-0.5, ny - 0.5)


def distortion_tag(detector: Detector) -> str | None:
    """File-name tag of a distortion file with a bounding box, so caches holding the earlier,
    box-less file of the same version are not reused."""
    return "bbox" if valid_area(detector) is not None else None


def distortion_model(detector: Detector):
    """The synthetic distortion transform of a detector (see the module description)."""
    ny, nx = detector.shape
    v2, v3, yang = aperture_reference(detector.name)
    dx, dy = distortion_terms(detector)
    return polynomial_distortion(x_ref=(nx - 1) / 2.0, y_ref=(ny - 1) / 2.0, scale=detector.pixel_scale,
                                 dx_terms=dx, dy_terms=dy, v2_ref=v2, v3_ref=v3, v3yangle=yang,
                                 vparity=VPARITY, shape=(ny, nx), bounding_box=valid_area(detector))


def _meta(detector: Detector, reftype: str, model_type: str, name: str, description: str) -> dict:
    exp_types = imaging_exp_types(detector.instrument)
    return {"reftype": reftype, "model_type": model_type, "filename": name, "telescope": "JWST",
            "instrument": {"name": detector.instrument, "detector": detector.name},
            "exposure": {"type": exp_types[0], "p_exptype": "|".join(exp_types) + "|"},
            "subarray": {"name": "GENERIC"}, "useafter": "2022-01-01T00:00:00", "pedigree": "DUMMY",
            "author": "streamcal synthetic reference set", "description": description}


def distortion_tree(detector: Detector, name: str, version: str) -> dict:
    """The ASDF tree of a synthetic DISTORTION file."""
    meta = _meta(detector, "distortion", "DistortionModel", name,
                 "Synthetic polynomial distortion: full-frame 0-based pixels -> V2/V3 arcsec")
    meta.update({"input_units": u.pix, "output_units": u.arcsec, "synthver": version})
    return {"meta": meta, "model": distortion_model(detector)}


def filter_rows(detector: Detector) -> list[dict]:
    """``filters`` of a synthetic FILTEROFFSET file (empty for FGS and NIRSpec)."""
    if detector.instrument == "NIRCAM":
        entries = NIRCAM_SW if detector.channel == "SHORT" else NIRCAM_LW
    else:
        entries = {"NIRISS": NIRISS, "MIRI": MIRI}.get(detector.instrument, ())
    rng = _rng(detector, "filteroffset")
    rows = []
    for entry in entries:
        filt, pupil = (entry, "CLEAR") if isinstance(entry, str) else entry
        col, row = (float(v) for v in np.round(rng.uniform(-0.3, 0.3, 2), 4))
        item = {"filter": filt, "column_offset": col, "row_offset": row}
        if detector.instrument != "MIRI":
            item["pupil"] = pupil
        rows.append(item)
    return rows


def filteroffset_tree(detector: Detector, name: str, version: str) -> dict:
    """The ASDF tree of a synthetic FILTEROFFSET file."""
    meta = _meta(detector, "filteroffset", "FilteroffsetModel", name,
                 "Synthetic filter offsets (pixels) added to detector coordinates before the distortion")
    meta["synthver"] = version
    return {"meta": meta, "filters": filter_rows(detector)}
