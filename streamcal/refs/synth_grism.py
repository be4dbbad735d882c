"""Synthetic grism references (ASDF, jwst 3.0 layouts): SPECWCS and WAVELENGTHRANGE for NIRCam
WFSS / TSGRISM (long-wave GRISMR, GRISMC) and NIRISS WFSS (GR150R, GR150C).

SPECWCS (jwst ``NIRCAMGrismModel`` / ``NIRISSGrismModel``): per spectral order, trace
functions of t in [0, 1] (see :mod:`streamcal.wcs.grism`):

- NIRCam, order +1, ~1 nm/pixel: ``displ`` (wavelength, um) a quadratic in t whose
  coefficients depend weakly on the source position (a list of ``Polynomial2D``), so jwst
  inverts it by sampling t (no ``invdispl``); the along-dispersion offset linear in t (no
  ``invdispx``/``invdispy``); the cross-dispersion offset bends by ~2 pixels over the trace
  and drifts with position.  NRC_TSGRISM files are polynomials in t only.
  The source's own position falls at 3.95 um (GRISMR disperses towards +x, GRISMC towards
  +y), so F444W traces run from about -70 to +1030 pixels.
- NIRISS, orders +1, 0, -1, +2, +3 (CRDS's set), 0.47 nm/pixel in first order: ``displ`` and
  ``invdispl`` exact linear inverses of each other; ``dispx``/``dispy`` field dependent
  (lists of ``Polynomial2D``); ``fwcpos_ref`` the filter-wheel angle the traces are
  defined at.  GR150R disperses along columns, GR150C along rows.

WAVELENGTHRANGE (jwst ``WavelengthrangeModel``): WFSS files list ``[order, filter, lmin,
lmax]`` rows (NIRISS: the blocking filter, i.e. PUPIL) and ``extract_orders`` (``[filter,
[orders]]``: order +1); the NRC_TSGRISM file uses jwst 3.0's five-element rows ``[order,
field point, filter, lmin, lmax]``.  Ranges are the filter bandpasses (um).

This module is a mode family of :mod:`streamcal.refs.generate` (``claims``, ``file_tag``,
``build``, ``is_asdf``).
"""

from __future__ import annotations

from astropy import units as u
from astropy.modeling.models import Polynomial1D, Polynomial2D

from ..detectors import Detector
from ..models import ExposureMeta
from . import synthetic as syn

__all__ = ["GRISM_EXP_TYPES", "NIRCAM_BANDS", "NIRISS_BANDS", "NIRISS_ORDERS", "NIRISS_FWCPOS_REF",
           "NIRCAM_UNDEVIATED", "claims", "file_tag", "build", "is_asdf", "nircam_specwcs_tree",
           "niriss_specwcs_tree", "wavelengthrange_tree"]

GRISM_EXP_TYPES = ("NRC_WFSS", "NRC_TSGRISM", "NIS_WFSS")
TYPES = ("specwcs", "wavelengthrange")
#: NIRCam long-wave filters usable with the grisms: bandpass (um).
NIRCAM_BANDS = {"F250M": (2.42, 2.57), "F277W": (2.42, 3.12), "F300M": (2.83, 3.16), "F322W2": (2.43, 4.01),
                "F335M": (3.23, 3.47), "F356W": (3.14, 3.98), "F360M": (3.44, 3.77), "F410M": (3.90, 4.31),
                "F430M": (4.17, 4.41), "F444W": (3.88, 4.98), "F460M": (4.51, 4.71), "F480M": (4.67, 4.97)}
#: NIRISS blocking filters of the WFSS mode: bandpass (um).
NIRISS_BANDS = {"F090W": (0.80, 1.01), "F115W": (1.01, 1.28), "F140M": (1.33, 1.48), "F150W": (1.33, 1.67),
                "F158M": (1.50, 1.66), "F200W": (1.75, 2.23)}
NIRISS_ORDERS = (1, 0, -1, 2, 3)
NIRISS_FWCPOS_REF = 0.0
#: Wavelength (um) at the source's direct-image position on NIRCam grism traces.
NIRCAM_UNDEVIATED = 3.95
NIRCAM_DISPERSION = 0.001   # um / pixel
NIRISS_DISPERSION = 0.000475   # um / pixel, first order
#: t = 0 .. 1 spans the band plus this margin (um) on each side.
_MARGIN = 0.05


def _applies(meta: ExposureMeta | None) -> bool:
    return meta is not None and meta.exp_type in GRISM_EXP_TYPES


def _grism_and_band(detector: Detector, meta: ExposureMeta) -> tuple[str, str]:
    """(grism, band filter) of an exposure: NIRCam FILTER is the band and PUPIL the grism;
    NIRISS the other way round."""
    if detector.instrument == "NIRISS":
        return meta.filter.upper(), meta.pupil.upper()
    return meta.pupil.upper(), meta.filter.upper()


def claims(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    """This family makes SPECWCS and WAVELENGTHRANGE of grism exposures with a known band."""
    if reftype not in TYPES or not _applies(meta):
        return False
    grism, band = _grism_and_band(detector, meta)
    if detector.instrument == "NIRCAM":
        return detector.channel == "LONG" and grism in ("GRISMR", "GRISMC") and band in NIRCAM_BANDS
    return detector.instrument == "NIRISS" and grism in ("GR150R", "GR150C") and band in NIRISS_BANDS


def is_asdf(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    return True


def file_tag(reftype: str, detector: Detector, meta: ExposureMeta) -> str:
    grism, band = _grism_and_band(detector, meta)
    if reftype == "wavelengthrange":
        return "tsgrism" if meta.exp_type == "NRC_TSGRISM" else "wfss"
    tso = "_tso" if meta.exp_type == "NRC_TSGRISM" else ""
    return f"{grism}_{band}{tso}".lower()


def build(reftype: str, detector: Detector, meta: ExposureMeta, name: str) -> dict:
    if not claims(reftype, detector, meta):
        raise ValueError(f"synth_grism does not make {reftype} for {detector.name} {meta and meta.exp_type}")
    if reftype == "wavelengthrange":
        return wavelengthrange_tree(detector, meta.exp_type, name)
    grism, band = _grism_and_band(detector, meta)
    if detector.instrument == "NIRCAM":
        return nircam_specwcs_tree(detector, grism, band, name, field_dependent=meta.exp_type != "NRC_TSGRISM")
    return niriss_specwcs_tree(detector, grism, band, name)


def _meta(detector: Detector, reftype: str, model_type: str, name: str, exp_type: str, description: str,
          **instrument) -> dict:
    return {"reftype": reftype, "model_type": model_type, "filename": name, "telescope": "JWST",
            "instrument": {"name": detector.instrument, "detector": detector.name, **instrument},
            "exposure": {"type": exp_type}, "useafter": "2022-01-01T00:00:00", "pedigree": "DUMMY",
            "author": "streamcal synthetic reference set", "description": description,
            "synthver": syn.VERSION}


def _field(c: float, cx: float = 0.0, cy: float = 0.0, centre: float = 1023.5) -> Polynomial2D:
    """c + cx (x0 - centre) + cy (y0 - centre) as a degree-1 Polynomial2D in (x0, y0)."""
    return Polynomial2D(1, c0_0=c - cx * centre - cy * centre, c1_0=cx, c0_1=cy)


def nircam_specwcs_tree(detector: Detector, grism: str, band: str, name: str, *, field_dependent: bool = True,
                        along_field_dependent: bool = False) -> dict:
    """SPECWCS of a NIRCam long-wave detector for ``grism`` (GRISMR/GRISMC) and filter ``band``.

    WFSS form (``field_dependent=True``), as CRDS's: ``displ`` and the cross-dispersion
    offset field dependent, the along-dispersion offset linear in t only.  jwst 3.0 can only
    evaluate a field-dependent along-dispersion offset for scalar source positions (its
    extract_2d wavelength grids and TSGRISM WCS pass arrays), so that form is made only on
    request (``along_field_dependent``, for the trace-model tests).  ``field_dependent=False``
    gives the time-series form: polynomials in t only (as the in-flight TSGRISM/DHS files),
    with ``invdispx`` (GRISMR) / ``invdispy`` (GRISMC).
    """
    lo, hi = NIRCAM_BANDS[band]
    l0, span = lo - _MARGIN, (hi - lo) + 2 * _MARGIN
    start = (l0 - NIRCAM_UNDEVIATED) / NIRCAM_DISPERSION
    # ~1 nm/pixel at mid-band: the along-dispersion length matches the wavelength span
    along = Polynomial1D(1, c0=start, c1=span / NIRCAM_DISPERSION)
    if field_dependent:
        # one-element list: jwst's ASDF converter wants dispx/dispy/displ all lists or all models
        along = [along]
        # wavelength: l0 + span t + small curvature, all slightly field dependent
        displ = [_field(l0, 2e-6, -1e-6), _field(span * 1.02, 1e-6, 1e-6), _field(-0.02 * span)]
        across = [_field(0.5, 4e-4, -1e-3), _field(2.0, 1e-4, 2e-4), _field(-1.5, -1e-4)]
    else:
        displ = Polynomial1D(2, c0=l0, c1=span * 1.02, c2=-0.02 * span)
        across = Polynomial1D(2, c0=0.5, c1=2.0, c2=-1.5)
    if along_field_dependent:
        along = [_field(start, 3e-3, -2e-3), _field(span * 1.02 / NIRCAM_DISPERSION, 4e-3, 2e-3),
                 _field(-0.02 * span / NIRCAM_DISPERSION, 1e-4)]
    dispx, dispy = (along, across) if grism == "GRISMR" else (across, along)
    exp_type = "NRC_WFSS" if field_dependent else "NRC_TSGRISM"
    meta = _meta(detector, "specwcs", "NIRCAMGrismModel", name, exp_type,
                 f"Synthetic NIRCam {grism} {band} grism dispersion, order +1",
                 filter=band, pupil=grism, module=detector.name[3] if detector.name.startswith("NRC") else "A")
    meta.update({"input_units": u.micron, "output_units": u.micron})
    tree = {"meta": meta, "orders": [1], "displ": [displ], "dispx": [dispx], "dispy": [dispy]}
    if not field_dependent:
        # the exact inverse of the linear along-dispersion offset: jwst 3.0's TSGRISM cutout
        # wavelengths (2-D pixel grids) need it -- without it jwst keeps one row of the grid
        length = span / NIRCAM_DISPERSION
        inverse = Polynomial1D(1, c0=-start / length, c1=1.0 / length)
        tree["invdispx" if grism == "GRISMR" else "invdispy"] = [inverse]
    return tree


def _niriss_order(order: int, lo: float, hi: float) -> tuple[Polynomial1D, Polynomial1D, list, list]:
    """(displ, invdispl, along-dispersion offset, cross-dispersion offset) of one NIRISS order."""
    l0, span = lo - _MARGIN, (hi - lo) + 2 * _MARGIN
    if order == 0:
        length, start = 6.0, -3.0       # zeroth order: a short smear
    else:
        length = order * span / NIRISS_DISPERSION
        start = 20.0 * order            # the trace starts 20 px (order 1) from the source
    along = [_field(start, 2e-3 * order, 1e-3), _field(length, 1e-5 * length, -5e-6 * length),
             _field(0.01 * length)]
    across = [_field(1.0 * order, 5e-4, -3e-4), _field(1.5 * order, 1e-4), _field(0.8 * order)]
    return Polynomial1D(1, c0=l0, c1=span), Polynomial1D(1, c0=-l0 / span, c1=1.0 / span), along, across


def niriss_specwcs_tree(detector: Detector, grism: str, band: str, name: str) -> dict:
    """SPECWCS of NIRISS for ``grism`` (GR150R/GR150C) and blocking filter ``band``."""
    lo, hi = NIRISS_BANDS[band]
    displ, invdispl, dispx, dispy = [], [], [], []
    for order in NIRISS_ORDERS:
        lmodel, inverse, along, across = _niriss_order(order, lo, hi)
        displ.append(lmodel)
        invdispl.append(inverse)
        # GR150C disperses along rows, GR150R along columns
        dispx.append(along if grism == "GR150C" else across)
        dispy.append(across if grism == "GR150C" else along)
    meta = _meta(detector, "specwcs", "NIRISSGrismModel", name, "NIS_WFSS",
                 f"Synthetic NIRISS {grism} {band} grism dispersion, orders {NIRISS_ORDERS}",
                 filter=grism, pupil=band)
    meta.update({"input_units": u.micron, "output_units": u.micron})
    return {"meta": meta, "orders": list(NIRISS_ORDERS), "displ": displ, "dispx": dispx, "dispy": dispy,
            "invdispl": invdispl, "fwcpos_ref": NIRISS_FWCPOS_REF}


def wavelengthrange_tree(detector: Detector, exp_type: str, name: str) -> dict:
    """WAVELENGTHRANGE of the grism modes of an instrument (all bands; order +1 extracted)."""
    if detector.instrument == "NIRISS":
        bands, orders = NIRISS_BANDS, list(NIRISS_ORDERS)
    else:
        bands, orders = NIRCAM_BANDS, [1]
    if exp_type == "NRC_TSGRISM":
        rows = [[1, "GRISMR", band, lo, hi] for band, (lo, hi) in bands.items()]
    else:
        rows = [[order, band, lo, hi] for order in orders for band, (lo, hi) in bands.items()]
    meta = _meta(detector, "wavelengthrange", "WavelengthrangeModel", name, exp_type,
                 f"Synthetic {exp_type} wavelength ranges (um) per order and filter")
    meta["wavelength_units"] = u.micron
    return {"meta": meta, "order": orders, "waverange_selector": list(bands),
            "wavelengthrange": rows, "extract_orders": [[band, [1]] for band in bands]}
