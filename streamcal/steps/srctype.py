"""srctype: decide whether a spectroscopic exposure holds a POINT or an EXTENDED source (SRCTYPE).

The decision follows jwst 3.0's ``set_source_type``.  For the single-source modes
(:data:`SINGLE_SOURCE_EXP_TYPES`) the first rule that applies wins:

1. the user's ``source_type`` parameter (ignored for NIS_SOSS, see below);
2. BKGDTARG true (a dedicated background exposure): EXTENDED;
3. a TSO exposure (TSOVISIT true or a TSO EXP_TYPE, and NINTS >= 2): POINT;
4. the APT choice SRCTYAPT when it is POINT or EXTENDED (SRCTYPE stands in when SRCTYAPT is
   absent, and is copied to SRCTYAPT, as jwst does for old files);
5. a nod pattern (PATTTYPE, or DITHOPFR for MIR_MRS, containing ``NOD`` or ``POINT-SOURCE``):
   POINT;
6. the per-EXP_TYPE default: EXTENDED for MIR_MRS and NRS_IFU, POINT otherwise.

Other EXP_TYPEs: a TSO exposure is POINT; WFSS sources take EXTENDED or POINT per source from
the catalog's ``is_extended`` (:func:`wfss_source_types`); anything else is UNKNOWN.  NIRSpec MOS
(per-slit stellarity) belongs to NIRSpec MSA processing, which streamcal does not do.

jwst 3.0 fails with an unbound-variable error when a user source type is given for NIS_SOSS (the
mode is single-source but not user-settable); streamcal raises a clear ``ValueError`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..errors import NotImplementedStepError
from ..models import ImageModel
from ..refs.model import RefData
from .base import StepParams, StepReport, skipped

__all__ = ["NAME", "STATUS_KEYWORD", "REFTYPES", "Params", "SourceTypeInputs", "SourceTypeDecision",
           "decide_source_type", "inputs_from_header", "wfss_source_types", "run"]

NAME = "srctype"
STATUS_KEYWORD = "S_SRCTYP"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()

#: Modes with one source per exposure, decided by the rule list of the module docstring.
SINGLE_SOURCE_EXP_TYPES = frozenset({"MIR_LRS-FIXEDSLIT", "MIR_LRS-SLITLESS", "MIR_MRS", "NRC_TSGRISM",
                                     "NIS_SOSS", "NRS_FIXEDSLIT", "NRS_BRIGHTOBJ", "NRS_IFU"})
#: Single-source modes where the user's ``source_type`` may override the decision.
USER_SETTABLE_EXP_TYPES = SINGLE_SOURCE_EXP_TYPES - {"NIS_SOSS"}
#: EXP_TYPEs that are time series by themselves (jwst ``TSO_EXP_TYPES``).
TSO_EXP_TYPES = frozenset({"NRC_TSIMAGE", "NRC_TSGRISM", "NRS_BRIGHTOBJ"})
WFSS_EXP_TYPES = frozenset({"NIS_WFSS", "NRC_WFSS", "MIR_WFSS"})
#: Default when nothing else decides: extended for the IFUs, point for slits and slitless.
_EXTENDED_BY_DEFAULT = frozenset({"MIR_MRS", "NRS_IFU"})
_VALID = ("POINT", "EXTENDED")


@dataclass(frozen=True)
class Params(StepParams):
    """srctype parameters (jwst names).

    Attributes
    ----------
    source_type : str or None
        ``"POINT"`` or ``"EXTENDED"`` to force the type (single-source modes); None: decide.
    """

    source_type: str | None = None


@dataclass(frozen=True)
class SourceTypeInputs:
    """The header values the decision reads.

    Attributes
    ----------
    exp_type : str
        EXP_TYPE.
    bkgdtarg : bool
        BKGDTARG (the exposure is of a background target).
    tsovisit : bool
        TSOVISIT.
    nints : int or None
        NINTS; fewer than 2 integrations is never a TSO.
    srctyapt : str or None
        SRCTYAPT, the APT source type.
    srctype : str or None
        SRCTYPE already in the header (used when SRCTYAPT is absent).
    pattern : str or None
        PATTTYPE (DITHOPFR for MIR_MRS).
    """

    exp_type: str
    bkgdtarg: bool = False
    tsovisit: bool = False
    nints: int | None = None
    srctyapt: str | None = None
    srctype: str | None = None
    pattern: str | None = None


@dataclass(frozen=True)
class SourceTypeDecision:
    """The outcome: SRCTYPE, the SRCTYAPT to record (None: leave as is) and why."""

    source_type: str
    srctyapt: str | None
    reason: str


def _is_tso(inputs: SourceTypeInputs) -> bool:
    tso = inputs.tsovisit or inputs.exp_type in TSO_EXP_TYPES
    return tso and not (inputs.nints is not None and inputs.nints < 2)


def _single_source(inputs: SourceTypeInputs, user: str | None) -> SourceTypeDecision:
    apt = inputs.srctyapt
    copied = None
    if apt is None:  # old files: SRCTYPE is both the input and the output
        apt = copied = inputs.srctype
    if user is not None:
        if inputs.exp_type not in USER_SETTABLE_EXP_TYPES:
            raise ValueError(f"source_type cannot be set by the user for {inputs.exp_type}")
        return SourceTypeDecision(str(user).upper(), copied, "user parameter")
    if inputs.bkgdtarg:
        return SourceTypeDecision("EXTENDED", copied, "background target (BKGDTARG)")
    if _is_tso(inputs):
        return SourceTypeDecision("POINT", copied, "time series")
    if apt in _VALID:
        return SourceTypeDecision(apt, copied, "APT source type (SRCTYAPT)")
    if inputs.pattern is not None and ("NOD" in inputs.pattern or "POINT-SOURCE" in inputs.pattern):
        return SourceTypeDecision("POINT", copied, f"nod pattern {inputs.pattern}")
    default = "EXTENDED" if inputs.exp_type in _EXTENDED_BY_DEFAULT else "POINT"
    return SourceTypeDecision(default, copied, f"default for {inputs.exp_type}")


def decide_source_type(inputs: SourceTypeInputs, user: str | None = None) -> SourceTypeDecision:
    """SRCTYPE for an exposure (rules of the module docstring).

    Parameters
    ----------
    inputs : SourceTypeInputs
        Header values.
    user : str or None
        The user's ``source_type`` parameter.

    Raises
    ------
    ValueError
        A user type for a mode that does not take one (NIS_SOSS, multi-source modes).
    NotImplementedStepError
        NRS_MSASPEC (per-slit stellarity).

    Examples
    --------
    >>> decide_source_type(SourceTypeInputs("MIR_LRS-FIXEDSLIT", pattern="ALONG-SLIT-NOD")).source_type
    'POINT'
    >>> decide_source_type(SourceTypeInputs("MIR_MRS")).source_type
    'EXTENDED'
    """
    if inputs.exp_type in SINGLE_SOURCE_EXP_TYPES:
        return _single_source(inputs, user)
    if user is not None:
        raise ValueError(f"source_type cannot be set by the user for {inputs.exp_type}")
    if inputs.exp_type == "NRS_MSASPEC":
        raise NotImplementedStepError("srctype for NRS_MSASPEC (per-slit stellarity) is not implemented")
    if _is_tso(inputs):
        return SourceTypeDecision("POINT", None, "time series")
    if inputs.exp_type in WFSS_EXP_TYPES:
        raise ValueError("WFSS source types are per source: use wfss_source_types")
    return SourceTypeDecision("UNKNOWN", None, f"EXP_TYPE {inputs.exp_type} has no source type rule")


def wfss_source_types(is_extended: np.ndarray) -> np.ndarray:
    """Per-source SRCTYPE of a WFSS exposure from the catalog's ``is_extended`` column.

    Examples
    --------
    >>> wfss_source_types(np.array([True, False])).tolist()
    ['EXTENDED', 'POINT']
    """
    return np.where(np.asarray(is_extended, bool), "EXTENDED", "POINT")


def _text(header, key: str) -> str | None:
    value = header.get(key)
    return None if value is None else str(value).strip().upper()


def inputs_from_header(header) -> SourceTypeInputs:
    """The decision inputs from a primary header (missing keywords: absent/False)."""
    exp_type = _text(header, "EXP_TYPE") or ""
    nints = header.get("NINTS")
    return SourceTypeInputs(
        exp_type=exp_type, bkgdtarg=bool(header.get("BKGDTARG", False)),
        tsovisit=bool(header.get("TSOVISIT", False)), nints=None if nints is None else int(nints),
        srctyapt=_text(header, "SRCTYAPT"), srctype=_text(header, "SRCTYPE"),
        pattern=_text(header, "DITHOPFR" if exp_type == "MIR_MRS" else "PATTTYPE"))


def run(image: ImageModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[ImageModel, StepReport]:
    """Set SRCTYPE (and SRCTYAPT for old files) in ``image.header``."""
    if params.skip:
        return image, skipped("skipped by parameter")
    inputs = inputs_from_header(image.header)
    if not inputs.exp_type:
        raise ValueError("srctype needs EXP_TYPE")
    decision = decide_source_type(inputs, params.source_type)
    if decision.srctyapt is not None:
        image.header["SRCTYAPT"] = (decision.srctyapt, "Source type from APT")
    image.header["SRCTYPE"] = (decision.source_type, "Source type used for calibration")
    return image, StepReport(note=f"SRCTYPE {decision.source_type}: {decision.reason}",
                             keywords={"SRCTYPE": decision.source_type})
