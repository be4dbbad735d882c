"""rscd (MIRI, RSCD reference table): flag the first groups of each integration DO_NOT_USE.

The reset switch charge decay affects the start of MIRI ramps.  The RSCD reference table
RSCD_GROUP_SKIP (columns ``subarray``, ``readpatt``, ``group_skip1``, ``group_skip``) gives, for
the exposure's SUBARRAY and READPATT, how many initial groups to flag in the first integration
of the exposure (``group_skip1``) and in every later one (``group_skip``).  Rules of jwst 3.0
``rscd_sub.correction_skip_groups``:

* fewer than 3 groups: SKIPPED; no table row for SUBARRAY/READPATT: SKIPPED;
* at least 3 groups must stay (the last one is lastframe's): a skip count above NGROUPS - 3 is
  lowered to NGROUPS - 3;
* the first-integration count applies only when the file starts with the exposure's first
  integration (INTSTART = 1); all other integrations use ``group_skip``;
* ``bright_use_2groups``: for a pixel saturating early, the count is lowered by one for each of
  the groups 0 .. skip+1 that is SATURATED, so bright pixels keep two usable groups when
  possible; such pixels get FLUX_ESTIMATED in PIXELDQ.

An old-format table without ``group_skip1`` flags nothing in the first integration (jwst < 1.17).
SUBPRISM is read as SLITLESSPRISM (old name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..errors import ReferenceFileError
from ..models import RampModel
from ..refs.model import RefData
from ._common import integration_start
from .base import StepParams, StepReport, skipped

NAME = "rscd"
STATUS_KEYWORD = "S_RSCD"
REFTYPES = ("rscd",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()

TABLE = "RSCD_GROUP_SKIP"


@dataclass(frozen=True)
class Params(StepParams):
    """jwst RscdStep parameters.

    Attributes
    ----------
    bright_use_2groups : bool
        Lower the count for saturating pixels so that two groups stay usable.
    """

    bright_use_2groups: bool = True


def skip_counts(table: np.ndarray, subarray: str, readpatt: str) -> tuple[int, int] | None:
    """(first-integration, later-integration) group counts for SUBARRAY/READPATT; None if absent.

    Examples
    --------
    >>> t = np.array([("FULL", "FAST", 3, 4)], dtype=[("subarray", "U17"), ("readpatt", "U12"),
    ...                                                ("group_skip1", "i4"), ("group_skip", "i4")])
    >>> skip_counts(t, "FULL", "FAST"), skip_counts(t, "SUB64", "FAST")
    ((3, 4), None)
    """
    subarray = "SLITLESSPRISM" if subarray.upper() == "SUBPRISM" else subarray.upper()
    names = {n.lower(): n for n in table.dtype.names}
    for row in table:
        if (str(row[names["subarray"]]).strip().upper() == subarray
                and str(row[names["readpatt"]]).strip().upper() == readpatt.upper()):
            first = int(row[names["group_skip1"]]) if "group_skip1" in names else 0
            return first, int(row[names["group_skip"]])
    return None


def per_pixel_skip(gdq_i: np.ndarray, skip: int, bright_use_2groups: bool) -> np.ndarray:
    """Groups to flag per pixel for one integration, int (ny, nx).

    With ``bright_use_2groups`` the count drops by one for each SATURATED group among
    0 .. skip+1 (jwst walks down from group skip+1 while any pixel is saturated there).

    Examples
    --------
    Skip 2; a pixel saturated from group 2 (groups 2 and 3 SATURATED: two decrements) gets no
    RSCD flag, so its groups 0 and 1 stay usable:

    >>> g = np.zeros((6, 1, 2), np.uint8); g[2:, 0, 1] = 2
    >>> per_pixel_skip(g, 2, True).tolist()
    [[2, 0]]
    """
    counts = np.full(gdq_i.shape[1:], skip, np.int32)
    if not bright_use_2groups:
        return counts
    for g in range(min(skip + 1, gdq_i.shape[0] - 1), -1, -1):
        sat = (gdq_i[g] & dqflags.SATURATED) != 0
        if not sat.any():
            break  # jwst stops at the first group where no pixel is saturated
        counts[sat] = np.maximum(counts[sat] - 1, 0)
    return counts


def flag_rscd_inplace(groupdq: np.ndarray, pixeldq: np.ndarray, skip_first: int, skip_later: int,
                      first_is_exposure_start: bool = True, bright_use_2groups: bool = True) -> int:
    """Flag the initial groups of every integration DO_NOT_USE.

    Parameters
    ----------
    groupdq : ndarray, uint8, (nints, ngroups, ny, nx)
        Updated in place.
    pixeldq : ndarray, uint32, (ny, nx)
        FLUX_ESTIMATED is OR-ed where a count was lowered.
    skip_first, skip_later : int
        Counts for the exposure's first integration and for the others (already capped).
    first_is_exposure_start : bool
        ``groupdq[0]`` is the exposure's first integration (INTSTART = 1).
    bright_use_2groups : bool
        See :func:`per_pixel_skip`.

    Returns
    -------
    int
        Number of pixels whose count was lowered.

    Examples
    --------
    >>> g = np.zeros((2, 5, 1, 1), np.uint8)
    >>> flag_rscd_inplace(g, np.zeros((1, 1), np.uint32), 1, 2)
    0
    >>> g[:, :, 0, 0].tolist()
    [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0]]
    """
    lowered = np.zeros(pixeldq.shape, bool)
    for i in range(groupdq.shape[0]):
        skip = skip_first if (i == 0 and first_is_exposure_start) else skip_later
        counts = per_pixel_skip(groupdq[i], skip, bright_use_2groups)
        lowered |= counts < skip
        for g in range(skip):
            groupdq[i, g][counts > g] |= np.uint8(dqflags.DO_NOT_USE)
    pixeldq[lowered] |= np.uint32(dqflags.DQ["FLUX_ESTIMATED"])
    return int(lowered.sum())


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Flag RSCD-affected groups in ``model.groupdq`` in place (MIRI only)."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if not model.meta.is_miri:
        return model, skipped("rscd applies to MIRI only")
    if "rscd" not in refs:
        return model, skipped("no rscd reference file applies")
    table = refs["rscd"].tables.get(TABLE)
    if table is None:
        raise ReferenceFileError(f"rscd reference {refs['rscd'].name} has no {TABLE} table")
    counts = skip_counts(table, model.meta.subarray, model.meta.readpatt)
    if counts is None:
        return model, skipped(f"no RSCD row for SUBARRAY={model.meta.subarray} READPATT={model.meta.readpatt}")
    ngroups = model.data.shape[1]
    if ngroups < 3:
        return model, skipped(f"NGROUPS={ngroups} < 3: too few groups")
    first, later = (min(c, ngroups - 3) for c in counts)
    lowered = flag_rscd_inplace(model.groupdq, model.pixeldq, first, later,
                                integration_start(model.header) == 1, params.bright_use_2groups)
    return model, StepReport(note=f"flagged {first} group(s) in integration 1 and {later} in later ones; "
                                  f"{lowered} bright pixels with fewer")
