"""Routing: which stage-1, stage-2 and stage-3 pipeline an exposure goes through.

A pure table from the pipeline-modules seed (``EXP_TYPE`` -> pipelines) plus the jwst rules
that the table leaves implicit: FGS guide-star modes go to ``calwebb_guider``; an exposure of a
time-series visit (``TSOVISIT = T``) in an imaging or spectroscopic science mode goes through
``calwebb_tso1`` and ``calwebb_tso3``.  Headers only; no data are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .registry import (ALIASES, AMI3, CORON3, D1, DARK, GUIDER, IMAGE2, IMAGE3, SPEC2, SPEC3, TSO1,  # noqa: F401
                       TSO3)


@dataclass(frozen=True)
class Route:
    """Pipelines one exposure runs through; ``None`` means the stage does not apply."""

    exp_type: str
    stage1: str
    stage2: str | None
    stage3: str | None
    tso: bool = False

    @property
    def pipelines(self) -> tuple[str, ...]:
        return tuple(p for p in (self.stage1, self.stage2, self.stage3) if p)


def _rows(exp_types: str, stage1: str, stage2: str | None, stage3: str | None) -> dict:
    return {e: (stage1, stage2, stage3) for e in exp_types.split()}


#: EXP_TYPE -> (stage 1, stage 2, stage 3), the rows of the seed table.
TABLE: dict[str, tuple[str, str | None, str | None]] = {
    **_rows("FGS_IMAGE MIR_IMAGE NRC_IMAGE NIS_IMAGE", D1, IMAGE2, IMAGE3),
    **_rows("FGS_FOCUS MIR_TACQ NRC_TACQ NRC_TACONFIRM NRC_FOCUS NIS_TACQ NIS_TACONFIRM NIS_FOCUS "
            "NRS_IMAGE NRS_TACQ NRS_TACONFIRM NRS_BOTA NRS_TASLIT NRS_CONFIRM NRS_FOCUS NRS_MIMF",
            D1, IMAGE2, None),
    **_rows("FGS_DARK MIR_DARK NRC_DARK NIS_DARK NRS_DARK", DARK, None, None),
    **_rows("FGS_SKYFLAT FGS_INTFLAT MIR_FLATIMAGE MIR_FLATMRS NRC_FLAT NRC_LED NIS_LAMP "
            "NRS_AUTOWAVE NRS_AUTOFLAT NRS_LAMP", D1, None, None),
    **_rows("MIR_MRS MIR_LRS-FIXEDSLIT NRC_WFSS NIS_WFSS NRS_FIXEDSLIT NRS_IFU NRS_MSASPEC",
            D1, SPEC2, SPEC3),
    **_rows("MIR_LRS-SLITLESS NRC_TSGRISM NIS_SOSS NRS_BRIGHTOBJ", TSO1, SPEC2, TSO3),
    **_rows("NRC_TSIMAGE", TSO1, IMAGE2, TSO3),
    **_rows("MIR_LYOT MIR_4QPM NRC_CORON", D1, IMAGE2, CORON3),
    **_rows("NIS_AMI", D1, IMAGE2, AMI3),
    # jwst rules beyond the seed's rows: guide-star modes, and the current names of MIRI darks.
    **_rows("FGS_ID-IMAGE FGS_ID-STACK FGS_ACQ1 FGS_ACQ2 FGS_TRACK FGS_FINEGUIDE", GUIDER, None, None),
    **_rows("MIR_DARKALL MIR_DARKIMG MIR_DARKMRS", DARK, None, None),
}

#: Science modes whose exposures switch to the TSO pipelines in a time-series visit.
_TSO_CAPABLE = {"MIR_IMAGE": IMAGE2, "NRC_IMAGE": IMAGE2, "NIS_IMAGE": IMAGE2,
                "MIR_LRS-FIXEDSLIT": SPEC2, "NRS_FIXEDSLIT": SPEC2}


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().upper() in ("T", "TRUE", "1", "Y", "YES")
    return bool(value)


def known_exp_types() -> tuple[str, ...]:
    """Every EXP_TYPE streamcal routes."""
    return tuple(TABLE)


def route(header: Mapping[str, object]) -> Route:
    """The route of an exposure from its primary header.

    Parameters
    ----------
    header : mapping
        Primary header (``astropy.io.fits.Header`` or dict) with EXP_TYPE and, optionally,
        TSOVISIT.

    Raises
    ------
    KeyError
        EXP_TYPE missing or not in the table; the message says which.

    Examples
    --------
    >>> route({"EXP_TYPE": "NRC_IMAGE"}).pipelines
    ('calwebb_detector1', 'calwebb_image2', 'calwebb_image3')
    >>> route({"EXP_TYPE": "MIR_IMAGE", "TSOVISIT": True}).stage3
    'calwebb_tso3'
    """
    raw = header.get("EXP_TYPE")
    if raw is None or not str(raw).strip():
        raise KeyError("EXP_TYPE keyword is missing")
    exp_type = str(raw).strip().upper()
    if exp_type not in TABLE:
        raise KeyError(f"EXP_TYPE {exp_type!r} is not in the routing table")
    stage1, stage2, stage3 = TABLE[exp_type]
    tso = stage1 == TSO1
    if exp_type in _TSO_CAPABLE and _truthy(header.get("TSOVISIT", False)):
        stage1, stage2, stage3, tso = TSO1, _TSO_CAPABLE[exp_type], TSO3, True
    return Route(exp_type, stage1, stage2, stage3, tso)


def route_file(path: str | Path) -> Route:
    """The route of a raw exposure from its primary header; no data are read.

    Raises
    ------
    BadInputError
        The header cannot be read (``check="fits"``) or EXP_TYPE is missing or unknown
        (``check="exp_type"``).
    """
    from .fitsio import read_header

    return _route_header(path, read_header(path))


def _route_header(path: str | Path, header) -> Route:
    from .errors import BadInputError

    try:
        return route(header)
    except KeyError as exc:
        raise BadInputError(str(path), "exp_type", str(exc.args[0])) from None


def route_landed(path: str | Path) -> Route:
    """The route of a raw exposure that just landed, once its header has passed the checks its
    stage-1 read will make (typed, range-checked exposure keywords; a window on its detector), so
    that a bad header is quarantined at landing rather than at the worker's first attempt.

    Raises
    ------
    BadInputError
        As :func:`route_file`, or ``check="keywords"``/``"window"``.
    """
    from .boundary import check_exposure_window
    from .fitsio import read_header
    from .models import ExposureMeta

    header = read_header(path)
    found = _route_header(path, header)
    check_exposure_window(str(path), ExposureMeta.from_header(header, source=str(path)))
    return found
