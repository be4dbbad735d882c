"""assign_wcs: the imaging WCS of a calibrated exposure (jwst ``AssignWcsStep``, imaging modes).

The WCS is a gwcs pipeline (:mod:`streamcal.wcs`): detector pixels (0-based, this subarray)
-> SUBSTRT and FILTEROFFSET shifts -> the DISTORTION reference file's transform -> V2/V3
(arcsec) -> velocity-aberration scale VA_SCALE about (V2_REF, V3_REF) -> rotation placing
(V2_REF, V3_REF) at (RA_REF, DEC_REF) with V3 at position angle ROLL_REF -> ICRS (deg).  It is
set on ``model.wcs``; a FITS TAN-SIP approximation (jwst ``sip_*`` parameters, max error
``sip_max_pix_error`` pixels, default 0.01) and S_REGION go into the SCI header so that
astropy and ds9 can use the product too.  Data, DQ and variances are not touched.

MIRI LRS (MIR_LRS-FIXEDSLIT, MIR_LRS-SLITLESS) gets jwst's LRS WCS instead
(:mod:`streamcal.wcs.lrs`: detector -> alpha_beta -> v2v3 -> v2v3vacorr -> world with a
wavelength axis) from the DISTORTION and SPECWCS references; no SIP approximation (the WCS is
not a celestial image one).  S_REGION: the slit corners (SPECWCS V2VERTn/V3VERTn) for the
slit; slitless exposures keep theirs (jwst 3.0's imaging footprint of the LRS WCS is NaN at the
bounding box corners, off the trace's rows, so jwst leaves S_REGION unset).  A fixed-slit exposure
also gets DITH_RA/DITH_DEC: the sky position of its dither offset XOFFSET/YOFFSET (arcsec,
ideal frame) from the reference point, where jwst's extract_1d centres a point source.
Other spectroscopic WCSs raise :class:`~streamcal.errors.NotImplementedStepError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .. import router
from ..errors import BadInputError, NotImplementedStepError, ReferenceFileError
from ..models import ImageModel
from ..refs.model import RefData
from ..wcs import (MissingPointingError, Pointing, exposure_wcs, filter_offset, ideal_to_v2v3,
                   pointing_from_header, replace_wcs_cards, s_region, sip_cards, sip_shortfall)
from ..wcs.lrs import LRS_EXP_TYPES, LrsSpecwcs, lrs_wcs, slit_vertices_world
from .base import StepParams, StepReport, skipped

NAME = "assign_wcs"
STATUS_KEYWORD = "S_WCS"
REFTYPES: tuple[str, ...] = ("distortion",)
#: specwcs is optional for the runner (imaging has none); :func:`run` requires it for LRS.
OPTIONAL_REFTYPES = ("filteroffset", "specwcs")
#: EXP_TYPEs whose WCS is an imaging one (the calwebb_image2 modes).
IMAGING_EXP_TYPES = frozenset(e for e, row in router.TABLE.items() if row[1] == router.IMAGE2)


@dataclass(frozen=True)
class SipSettings:
    """jwst's parameters of the FITS SIP approximation (assign_wcs and tweakreg).

    Attributes
    ----------
    sip_approx : bool
        Write the SIP approximation into the SCI header.
    sip_max_pix_error, sip_max_inv_pix_error : float
        Largest allowed difference from the gwcs, pixels (forward, inverse).
    sip_degree, sip_inv_degree : int or None
        Polynomial degrees (None: the lowest that meets the error).
    sip_npoints : int
        Fit grid points per axis.
    """

    sip_approx: bool = True
    sip_max_pix_error: float = 0.01
    sip_degree: int | None = None
    sip_max_inv_pix_error: float = 0.01
    sip_inv_degree: int | None = None
    sip_npoints: int = 12

    def sip_cards(self, wcs, shape: tuple[int, int]) -> dict:
        """The SIP header cards of ``wcs`` over an image of ``shape`` (ny, nx) with these settings."""
        return sip_cards(wcs, shape, max_pix_error=self.sip_max_pix_error, degree=self.sip_degree,
                         max_inv_pix_error=self.sip_max_inv_pix_error, inv_degree=self.sip_inv_degree,
                         npoints=self.sip_npoints)


@dataclass(frozen=True)
class Params(SipSettings, StepParams):
    """assign_wcs parameters: those of the SIP approximation (:class:`SipSettings`)."""


def distortion_transform(ref: RefData):
    """The ``model`` of a DISTORTION reference file (an imaging one).

    Raises
    ------
    ReferenceFileError
        The file has no ``model`` transform (not ASDF, or a spectroscopic distortion such as
        MIRI MRS, whose tree holds per-slice models instead).
    """
    model = (ref.tree or {}).get("model")
    if model is None or getattr(model, "n_inputs", 0) != 2 or getattr(model, "n_outputs", 0) != 2:
        raise ReferenceFileError(f"{ref.path}: not an imaging distortion reference (no 2->2 'model')")
    return model


def offset_of(ref: RefData | None, filter_name: str, pupil: str) -> tuple[float, float]:
    """The FILTEROFFSET (column, row) pixels for an exposure's filter/pupil, (0, 0) without a
    file or a matching row (jwst does the same)."""
    if ref is None or not ref.tree:
        return 0.0, 0.0
    return filter_offset(ref.tree.get("filters", []), filter_name, pupil) or (0.0, 0.0)


def run(model: ImageModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Set ``model.wcs`` and write the SIP approximation and S_REGION into ``model.sci_header``.

    Raises
    ------
    NotImplementedStepError
        Not an imaging EXP_TYPE.
    BadInputError
        The SCI header lacks pointing keywords (RA_REF, DEC_REF, V2_REF, V3_REF, ROLL_REF).
    ReferenceFileError
        No usable DISTORTION reference.
    """
    if params.skip:
        return model, skipped("skipped by parameter")
    meta = model.meta
    if meta.exp_type not in IMAGING_EXP_TYPES and meta.exp_type not in LRS_EXP_TYPES:
        raise NotImplementedStepError(f"assign_wcs: the WCS of {meta.exp_type} (a non-imaging mode) is not implemented")
    if refs.get("distortion") is None:
        raise ReferenceFileError(f"assign_wcs: no distortion reference for {meta.detector} {meta.exp_type}")
    try:
        pointing = pointing_from_header(model.sci_header)
    except MissingPointingError as exc:
        raise BadInputError(meta.filename, "keywords", str(exc.args[0])) from None
    if meta.exp_type in LRS_EXP_TYPES:
        return _run_lrs(model, refs, pointing)
    shape = model.data.shape[-2:]
    offset = offset_of(refs.get("filteroffset"), meta.filter, meta.pupil)
    model.wcs = exposure_wcs(pointing, distortion_transform(refs["distortion"]), shape=shape,
                             substrt=(meta.substrt1, meta.substrt2), offset=offset)
    note = f"filter offset ({offset[0]:+.3f}, {offset[1]:+.3f}) px"
    if params.sip_approx:
        cards = params.sip_cards(model.wcs, shape)
        replace_wcs_cards(model.sci_header, cards)
        note += f"; SIP approximation, max error {cards.get('SIPMXERR', float('nan')):.4f} px"
        shortfall = sip_shortfall(cards, params.sip_max_pix_error, params.sip_max_inv_pix_error)
        note += f" (WARNING: {shortfall}; the gwcs in the ASDF extension is exact)" if shortfall else ""
    model.sci_header["S_REGION"] = s_region(model.wcs, shape)
    return model, StepReport(note=note)


def _run_lrs(model: ImageModel, refs: Mapping[str, RefData], pointing: Pointing) -> tuple[ImageModel, StepReport]:
    """The MIRI LRS branch of :func:`run` (module description)."""
    meta = model.meta
    if refs.get("specwcs") is None:
        raise ReferenceFileError(f"assign_wcs: no specwcs reference for {meta.detector} {meta.exp_type}")
    spec = LrsSpecwcs.from_refdata(refs["specwcs"])
    velosys = model.sci_header.get("VELOSYS", model.header.get("VELOSYS"))
    model.wcs = lrs_wcs(pointing, distortion_transform(refs["distortion"]), spec, meta.exp_type,
                        (meta.substrt1, meta.substrt2), (meta.subsize1, meta.subsize2),
                        velosys=None if velosys is None else float(velosys))
    note = f"MIRI LRS WCS from {refs['specwcs'].name}"
    corners = slit_vertices_world(model.wcs, spec) if LRS_EXP_TYPES[meta.exp_type] else None
    if corners is not None:
        model.sci_header["S_REGION"] = "POLYGON ICRS " + " ".join(f"{r:.9f} {d:.9f}" for r, d in corners)
    if LRS_EXP_TYPES[meta.exp_type]:
        ra, dec = _dithered_position(model, pointing)
        model.header["DITH_RA"], model.header["DITH_DEC"] = ra, dec
        note += f"; dithered position ({ra:.7f}, {dec:.7f})"
    return model, StepReport(note=note)


def _dithered_position(model: ImageModel, pointing: Pointing) -> tuple[float, float]:
    """DITH_RA, DITH_DEC (deg): XOFFSET/YOFFSET (arcsec, ideal frame) -> V2/V3 -> sky."""
    xoff = float(model.header.get("XOFFSET", 0.0) or 0.0)
    yoff = float(model.header.get("YOFFSET", 0.0) or 0.0)
    v2, v3 = ideal_to_v2v3(pointing.v2_ref, pointing.v3_ref, pointing.v3yangle, pointing.vparity)(xoff, yoff)
    ra, dec, _ = model.wcs.transform("v2v3", "world", v2, v3, 0.0)
    return float(ra), float(dec)
