"""persistence (jwst 3.0 flagging only; skipped by default): flag groups inside a persistence
window opened by saturation.

State: ``window_end`` (ny, nx) float64, epoch seconds (Unix time) at which each pixel's window
closes, 0 = no window.  It carries from integration to integration and, handed in and out by the
caller, from exposure to exposure of the same detector (jwst keeps it in an ASDF file given by
``persistence_array_file`` / written by ``save_persistence``; reading and writing that file is
the pipeline's job, not the step's).

Per pixel, integration and group (jwst ``DataSet.process_persistence_flagging``), with the group
time ``t`` = integration start + (g + 1) * TGROUP:

1. a window that ended before ``t`` is closed (set to 0);
2. the first trigger of the integration -- a SATURATED group or, with ``dn_threshold``, a group
   above it while no window is open -- sets the window end to ``t + persistence_time`` (jwst
   resets it at every group while its count of saturated groups is 1, which is the same thing
   because SATURATED runs to the end of the ramp);
3. if a window is open the group gets PERSISTENCE (plus DO_NOT_USE with ``persistence_dnu``).

Integration start: INT_TIMES ``int_start_MJD_UTC`` when present, else EXPSTART + i * EFFINTTM
(epoch seconds); without either the times are relative to the exposure start (note in the report;
windows then cannot be carried to another exposure).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from numba import njit

from .. import dqflags
from ..models import RampModel
from ..refs.model import RefData
from .base import StepParams, StepReport, skipped

NAME = "persistence"
STATUS_KEYWORD = "S_PERSIS"
REFTYPES: tuple[str, ...] = ()
OPTIONAL_REFTYPES: tuple[str, ...] = ()

#: MJD of the Unix epoch (1970-01-01T00:00:00 UTC).
MJD_EPOCH = 40587.0


@dataclass(frozen=True)
class Params(StepParams):
    """jwst 3.0 PersistenceStep parameters.

    Attributes
    ----------
    persistence_time : int or None
        Length of the flagging window, s; None or <= 0 turns flagging off.
    dn_threshold : float or None
        A group above this signal, DN, also opens a window (when none is open).
    persistence_dnu : bool
        Also set DO_NOT_USE with PERSISTENCE.
    persistence_array_file : str or None
        jwst: ASDF file with the incoming window ends.  Read by the pipeline, not by the step.
    save_persistence : str or None
        jwst: where to save the outgoing window ends.  Written by the pipeline.
    """

    skip: bool = True
    persistence_time: int | None = None
    dn_threshold: float | None = None
    persistence_dnu: bool = False
    persistence_array_file: str | None = None
    save_persistence: str | None = None


def mjd_to_epoch(mjd: float) -> float:
    """Modified Julian Date to Unix time, s.

    Examples
    --------
    >>> mjd_to_epoch(40588.0)
    86400.0
    """
    return (mjd - MJD_EPOCH) * 86400.0


def group_times(int_starts: np.ndarray, ngroups: int, tgroup: float) -> np.ndarray:
    """Time of each group, s: integration start + (g + 1) * TGROUP, shape (nints, ngroups).

    Examples
    --------
    >>> group_times(np.array([0.0, 100.0]), 2, 10.0).tolist()
    [[10.0, 20.0], [110.0, 120.0]]
    """
    return np.asarray(int_starts, np.float64)[:, None] + tgroup * np.arange(1, ngroups + 1)[None, :]


@njit(cache=True)
def _flag_windows(gdq, data, times, window_end, ptime, dn_threshold, use_dn, sat, flag):
    nints, ngroups, ny, nx = gdq.shape
    for y in range(ny):
        for x in range(nx):
            end = window_end[y, x]
            for i in range(nints):
                count = 0
                for g in range(ngroups):
                    t = times[i, g]
                    if end < t:
                        end = 0.0
                    trigger = (gdq[i, g, y, x] & sat) != 0
                    if use_dn and not trigger and end == 0.0 and data[i, g, y, x] > dn_threshold:
                        trigger = True
                    if trigger:
                        count += 1
                        if count == 1:
                            end = t + ptime
                    if end > 0.0:
                        gdq[i, g, y, x] |= flag
            window_end[y, x] = end


def flag_persistence_inplace(groupdq: np.ndarray, data: np.ndarray, times: np.ndarray,
                             window_end: np.ndarray, persistence_time: float,
                             dn_threshold: float | None = None, dnu: bool = False) -> None:
    """Flag groups inside persistence windows and update the window ends (see module doc).

    Parameters
    ----------
    groupdq : ndarray, uint8, (nints, ngroups, ny, nx)
        Updated in place.
    data : ndarray, float32, same shape
        Ramps, DN (only read with ``dn_threshold``).
    times : ndarray, float64, (nints, ngroups)
        Group times, s (:func:`group_times`).
    window_end : ndarray, float64, (ny, nx)
        Window ends, s, 0 = none; read and updated in place.
    persistence_time : float
        Window length, s.
    dn_threshold : float or None
        DN.
    dnu : bool
        Add DO_NOT_USE.

    Raises
    ------
    ValueError
        ``window_end`` holds a window that started after this exposure's first group
        (jwst's "backwards flagging" check).

    Examples
    --------
    Saturated from group 5 of integration 0 (7 groups of 10 s, integration 1 starts at 100 s):
    the window runs from 60 s to 130 s inclusive, flagging groups 5-6 (60, 70 s) of integration 0
    and groups 0-2 (110, 120, 130 s) of integration 1; at 140 s it has closed.

    >>> g = np.zeros((2, 7, 1, 1), np.uint8); g[0, 5:] = 2
    >>> t = group_times(np.array([0.0, 100.0]), 7, 10.0)
    >>> w = np.zeros((1, 1)); flag_persistence_inplace(g, np.zeros(g.shape, np.float32), t, w, 70)
    >>> g[:, :, 0, 0].tolist(), float(w[0, 0])
    ([[0, 0, 0, 0, 0, 34, 34], [32, 32, 32, 0, 0, 0, 0]], 0.0)
    """
    if np.any((window_end > 0) & (window_end > times[0, 0] + persistence_time)):
        raise ValueError("invalid persistence array: a window ends later than persistence_time "
                         "after this exposure starts (backwards flagging)")
    flag = dqflags.PERSISTENCE | (dqflags.DO_NOT_USE if dnu else 0)
    _flag_windows(groupdq, data, times, window_end, float(persistence_time),
                  0.0 if dn_threshold is None else float(dn_threshold), dn_threshold is not None,
                  np.uint8(dqflags.SATURATED), np.uint8(flag))


def integration_starts(model: RampModel) -> tuple[np.ndarray, bool]:
    """Start time of each integration, Unix seconds, and whether it is absolute."""
    nints = model.data.shape[0]
    table = model.int_times
    if table is not None and len(table) >= nints and "int_start_MJD_UTC" in (table.dtype.names or ()):
        return np.array([mjd_to_epoch(float(t)) for t in table["int_start_MJD_UTC"][:nints]]), True
    expstart = model.header.get("EXPSTART")
    inttime = float(model.header.get("EFFINTTM") or model.meta.tgroup * model.meta.ngroups)
    start = mjd_to_epoch(float(expstart)) if expstart else 0.0
    return start + inttime * np.arange(nints), bool(expstart)


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params(),
        persistence_array: np.ndarray | None = None) -> tuple[RampModel, StepReport]:
    """Flag persistence windows in ``model.groupdq`` in place.

    ``persistence_array`` (ny, nx) float64 window ends, Unix s, is the per-detector state carried
    between exposures: it is read and updated in place.  None starts with no open window.
    """
    if params.skip:
        return model, skipped("skipped by parameter")
    if params.persistence_time is None or params.persistence_time <= 0:
        return model, skipped("persistence_time not set: no flagging window")
    shape = model.pixeldq.shape
    if persistence_array is None:
        persistence_array = np.zeros(shape, np.float64)
    elif persistence_array.shape != shape or persistence_array.dtype != np.float64:
        raise ValueError(f"persistence_array must be float64 {shape}, got {persistence_array.dtype} "
                         f"{persistence_array.shape}")
    starts, absolute = integration_starts(model)
    times = group_times(starts, model.data.shape[1], model.meta.tgroup)
    flag_persistence_inplace(model.groupdq, model.data, times, persistence_array,
                             params.persistence_time, params.dn_threshold, params.persistence_dnu)
    note = f"{int((persistence_array > 0).sum())} windows open at the end of the exposure"
    if not absolute:
        note += "; no EXPSTART/INT_TIMES: times relative to the exposure start"
    return model, StepReport(note=note)
