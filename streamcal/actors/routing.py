"""The router step: read only the primary header, decide the route (plain Python, no Ray)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from .. import router
from ..errors import BadInputError
from ..fitsio import read_header


def route_file(path: str | Path) -> router.Route:
    """The route of a raw exposure from its primary header; no data are read.

    Raises
    ------
    BadInputError
        The header cannot be read (``check="fits"``) or EXP_TYPE is missing or unknown
        (``check="exp_type"``).
    """
    try:
        header = read_header(path)
    except BadInputError:
        raise
    except Exception as exc:  # astropy raises many kinds for a broken header
        raise BadInputError(str(path), "fits", f"cannot read the primary header: {exc}") from None
    try:
        return router.route(header)
    except KeyError as exc:
        raise BadInputError(str(path), "exp_type", str(exc.args[0])) from None


def route_dict(route: router.Route) -> dict:
    """A route as a JSON-able dict (stored in the ledger)."""
    return asdict(route)


def route_from_dict(data: dict) -> router.Route:
    """Inverse of :func:`route_dict`."""
    return router.Route(**data)


def next_stage(route: router.Route, pipeline: str) -> str | None:
    """The pipeline after ``pipeline`` on ``route`` (stage 1 -> stage 2 only: stage 3 waits for the
    association buffer); ``None`` when the exposure's chain of single-exposure stages ends."""
    if pipeline == route.stage1:
        return route.stage2
    return None


def stage_options(pipeline: str, route: dict, config) -> dict:
    """Worker options of an exposure's stage-2 job.

    An image2 exposure bound for image3 also gets its tweakreg source catalog (made while the
    association's other members are still landing, so image3 need not detect them at firing
    time), and its single-exposure ``_i2d`` quick look only when ``[associations]
    stage3_quicklook`` asks for it: stage 3 makes the mosaic, and a full-frame resample would
    delay the hand-on by seconds.  ``route`` is the route as a dict (:func:`route_dict`).
    """
    if pipeline != router.IMAGE2 or route.get("stage3") != router.IMAGE3:
        return {}
    return {"tweakreg_catalog": True, "quicklook": bool(config.associations.stage3_quicklook)}
