"""charge_migration (NIR, skipped by default): flag groups where charge starts to migrate.

jwst 3.0 rule: in each integration, the first group whose signal exceeds ``signal_threshold``
(skipping groups whose GROUPDQ is exactly DO_NOT_USE) and every later group get
CHARGELOSS | DO_NOT_USE; the four side neighbours of the pixel get the same flags from that group
on (the charge spills into them).  Integrations with fewer than 3 groups are not flagged: the
step is SKIPPED.  Ramp fitting leaves these groups out of the slope but keeps them for the
read-noise variance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..models import RampModel
from ..refs.model import RefData
from .base import StepParams, StepReport, skipped

NAME = "charge_migration"
STATUS_KEYWORD = "S_CHGMIG"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()

_FLAG = np.uint8(dqflags.CHARGELOSS | dqflags.DO_NOT_USE)


@dataclass(frozen=True)
class Params(StepParams):
    """jwst ChargeMigrationStep parameters.

    Attributes
    ----------
    signal_threshold : float
        Signal, DN, above which a group starts the CHARGELOSS flagging.
    """

    skip: bool = True
    signal_threshold: float = 25000.0


def first_exceedance(data_i: np.ndarray, gdq_i: np.ndarray, threshold: float) -> np.ndarray:
    """Index of the first group above ``threshold`` per pixel (ngroups where none).

    Parameters
    ----------
    data_i : ndarray, float32, (ngroups, ny, nx)
        One integration, DN.
    gdq_i : ndarray, uint8, same shape
        Groups whose DQ is exactly DO_NOT_USE are ignored (jwst rule).

    Examples
    --------
    >>> d = np.array([10, 30, 20], np.float32).reshape(3, 1, 1)
    >>> first_exceedance(d, np.zeros(d.shape, np.uint8), 25).tolist()
    [[1]]
    """
    ngroups = data_i.shape[0]
    first = np.full(data_i.shape[1:], ngroups, np.int32)
    for g in range(ngroups - 1, -1, -1):  # backwards: the earliest exceedance wins
        hit = (data_i[g] > threshold) & (gdq_i[g] != dqflags.DO_NOT_USE)
        first[hit] = g
    return first


def spread_to_neighbours(first: np.ndarray) -> np.ndarray:
    """Per pixel, the earliest start among itself and its 4 side neighbours.

    Examples
    --------
    >>> spread_to_neighbours(np.array([[9, 9, 9], [9, 2, 9]])).tolist()
    [[9, 2, 9], [2, 2, 2]]
    """
    out = first.copy()
    np.minimum(out[1:], first[:-1], out=out[1:])
    np.minimum(out[:-1], first[1:], out=out[:-1])
    np.minimum(out[:, 1:], first[:, :-1], out=out[:, 1:])
    np.minimum(out[:, :-1], first[:, 1:], out=out[:, :-1])
    return out


def flag_charge_migration_inplace(data: np.ndarray, groupdq: np.ndarray, threshold: float) -> int:
    """Flag CHARGELOSS | DO_NOT_USE from the first exceedance on (pixel and 4 neighbours).

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN.
    groupdq : ndarray, uint8, same shape
        Updated in place.
    threshold : float
        DN.

    Returns
    -------
    int
        Number of (integration, pixel) ramps that exceeded the threshold.

    Examples
    --------
    >>> d = np.zeros((1, 3, 1, 3), np.float32); d[0, 1:, 0, 1] = 30000
    >>> g = np.zeros(d.shape, np.uint8)
    >>> flag_charge_migration_inplace(d, g, 25000.0)
    1
    >>> g[0, :, 0].tolist()
    [[0, 0, 0], [129, 129, 129], [129, 129, 129]]
    """
    count = 0
    for i in range(data.shape[0]):
        first = first_exceedance(data[i], groupdq[i], threshold)
        count += int((first < data.shape[1]).sum())
        start = spread_to_neighbours(first)
        for g in range(data.shape[1]):
            groupdq[i, g][start <= g] |= _FLAG
    return count


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Flag charge migration in ``model.groupdq`` in place."""
    if params.skip:
        return model, skipped("skipped by parameter")
    ngroups = model.data.shape[1]
    if ngroups < 3:
        return model, skipped(f"NGROUPS={ngroups} < 3: too few groups")
    n = flag_charge_migration_inplace(model.data, model.groupdq, params.signal_threshold)
    return model, StepReport(note=f"{n} ramps above {params.signal_threshold:g} DN")
