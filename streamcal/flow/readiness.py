"""Readiness as data: which pipeline comes next for an exposure, what it reads, what it waits for.

- Stage 2 runs after stage 1, on the stage-1 product (``_rateints`` for time series, else
  ``_rate``).
- After its last single-exposure stage an exposure is ``done`` or, when its route has stage 3,
  ``waiting_association``: stage 3 runs when its association is complete or its late-member
  timeout passed (:mod:`streamcal.associations` decides).
- A pipeline with :attr:`~streamcal.registry.PipelineEntry.needs` waits for those products of
  another stage (same program and observation), up to a timeout, then fails saying what never came.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

from .. import registry
from ..router import Route
from .jobs import Job, Outcome, StageOptions

__all__ = ["CrossWait", "after_single_stages", "missing_inputs", "next_pipeline", "observation_prefix",
           "stage_input", "stage_options"]

DONE, WAITING = "done", "waiting_association"


def next_pipeline(route: Route, pipeline: str) -> str | None:
    """The single-exposure pipeline after ``pipeline`` on ``route`` (stage 1 → stage 2), or None."""
    return route.stage2 if pipeline == route.stage1 else None


def stage_input(route: Route, outcome: Outcome) -> str | None:
    """The stage-1 product that stage 2 reads: ``_rateints`` for TSO, else ``_rate`` (either one
    when only it exists)."""
    return outcome.product(*(("rateints", "rate") if route.tso else ("rate", "rateints")))


def after_single_stages(route: Route) -> tuple[str, str]:
    """Ledger state after an exposure's last single-exposure stage, and why it fails if it does.

    Returns ``(state, reason)``: ``("done", "")``, ``("waiting_association", "")``, or
    ``("failed", reason)`` when its stage 3 has no engine yet (nothing is passed through)."""
    if route.stage3 is None:
        return DONE, ""
    if not registry.implemented(route.stage3):
        return "failed", f"{route.stage3} is not implemented yet; nothing is passed through"
    return WAITING, ""


def stage_options(pipeline: str, route: Route, *, stage3_quicklook: bool) -> StageOptions:
    """Options of an exposure's stage-2 job.

    An image2 exposure bound for image3 also gets its tweakreg source catalog (made while the
    association's other members are still landing, so image3 need not detect them when it fires),
    and its single-exposure ``_i2d`` quick look only when asked: stage 3 makes the mosaic, and a
    full-frame resample would delay the hand-on by seconds.
    """
    if pipeline != registry.IMAGE2 or route.stage3 != registry.IMAGE3:
        return StageOptions()
    return StageOptions(tweakreg_catalog=True, quicklook=stage3_quicklook)


_OBSERVATION = re.compile(r"^jw(\d{5})(\d{3})\d{3}_")


def observation_prefix(name: str) -> str | None:
    """``jw01234001001_02101_00001_nrca1_uncal.fits`` → ``jw01234-o001_``, the start of the names of
    that observation's level-3 products; None for a name not in the JWST pattern."""
    match = _OBSERVATION.match(PurePath(name).name)
    return f"jw{match[1]}-o{match[2]}_" if match else None


@dataclass(frozen=True)
class CrossWait:
    """An exposure waiting for another stage's products before its pipeline may run.

    Attributes
    ----------
    job : Job
        The job to run once the products are there (``options.extra_inputs`` filled in then).
    since : float
        When the wait began (seconds since the epoch): the ledger's time of the transition into
        the stage, so a restart does not reset it.
    """

    job: Job
    since: float


def missing_inputs(route: Route, pipeline: str, available: dict[str, list[str]]) -> list[str]:
    """What ``pipeline`` still lacks for an exposure of ``route`` among its cross-stage needs.

    Parameters
    ----------
    available : dict
        ``{needed pipeline: [product paths of the exposure's observation]}``.

    Returns
    -------
    list of str
        ``"calwebb_image3 _cat"``-style descriptions of what is missing (empty: ready).
    """
    missing = []
    for need in registry.entry(pipeline).needs:
        if not need.applies_to(route.exp_type):
            continue
        suffixes = {PurePath(p).stem.rsplit("_", 1)[-1] for p in available.get(need.pipeline, [])}
        missing += [f"{need.pipeline} _{s}" for s in need.suffixes if s not in suffixes]
    return missing
