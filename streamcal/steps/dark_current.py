"""dark_current: subtract the dark signal (DARK reference), jwst 3.0 / stcal ``dark_sub`` rules.

Reference data: NIR darks are 3-D (nframes_dark, ny, nx) DN, taken with NFRAMES=1, GROUPGAP=0,
their own first frame subtracted; MIRI darks are 4-D (nints_dark, ngroups, ny, nx), science
integration i using dark integration i while there is one and the last one after that (counted
from the start of the exposure, so a later segment (INTSTART > 1) uses the last one throughout).

* Dark NFRAMES/GROUPGAP equal to the science ones: the dark groups are subtracted directly.
* Dark NFRAMES=1, GROUPGAP=0 and science NFRAMES > 1 or GROUPGAP > 0: the dark is rebuilt to the
  science group structure, group g = mean of dark frames [s, s+NFRAMES) with
  s = g*(NFRAMES+GROUPGAP).
* A dark with larger NFRAMES or GROUPGAP than the science: SKIPPED (cannot be rebuilt), as in
  jwst.  Choice: a dark with NFRAMES > 1 that differs from the science is skipped too (stcal
  would average its groups as if they were single frames).
* Frames beyond the end of the dark are extrapolated with the difference of its last two
  frames: frame k = last + (k - last_index) * (last - previous).
* NaN in the dark (after extrapolation) is 0; PIXELDQ |= dark DQ (OR of all its planes).

Each science group's dark value is computed per pixel in a numba loop and subtracted from every
integration: no full-size temporaries.

``average_dark_current`` (e-/s, used by ramp fitting for the Poisson variance of the dark) is
stored on the model: the ``average_dark_current`` parameter when given, else the 2-D AVDRKCUR
extension of the dark when it is non-zero and matches the data shape, else the scalar AVDRKCUR
keyword of the dark (default 0).  ``dark_output`` (jwst: write the rebuilt dark) is recorded in
the report only: writing files is the pipeline's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from numba import njit

from ..errors import ReferenceFileError
from ..models import RampModel
from ..refs.model import RefData
from ._common import integration_start, or_dq, ref_array, ref_dq
from .base import StepParams, StepReport, skipped

NAME = "dark_current"
STATUS_KEYWORD = "S_DARK"
REFTYPES = ("dark",)
OPTIONAL_REFTYPES: tuple[str, ...] = ()


@dataclass(frozen=True)
class Params(StepParams):
    """jwst DarkCurrentStep parameters.

    Attributes
    ----------
    dark_output : str or None
        jwst: file for the rebuilt dark.  Noted in the report; the step writes no files.
    average_dark_current : float or None
        Average dark current, e-/s, overriding the reference file's.
    """

    dark_output: str | None = None
    average_dark_current: float | None = None


@njit(cache=True)
def _subtract_group(data_g, dark, start, nframes):
    """data_g (nints, ny, nx) -= mean of dark frames [start, start+nframes), extrapolated past the
    dark's end from its last two frames, NaN -> 0 (after extrapolation, as stcal)."""
    nd = dark.shape[0]
    nints, ny, nx = data_g.shape
    for y in range(ny):
        for x in range(nx):
            acc = 0.0
            for k in range(start, start + nframes):
                if k < nd:
                    v = np.float64(dark[k, y, x])
                else:
                    last = np.float64(dark[nd - 1, y, x])
                    v = last + (k - nd + 1) * (last - dark[nd - 2, y, x])
                if v == v:  # not NaN
                    acc += v
            value = np.float32(acc / nframes)
            for i in range(nints):
                data_g[i, y, x] -= value


def subtract_dark_inplace(data: np.ndarray, dark: np.ndarray, nframes: int = 1, groupgap: int = 0,
                          int_start: int = 1) -> None:
    """Subtract the dark from every group of every integration (one numba pass per group).

    Science group g uses the mean of dark planes [s, s + nframes), s = g * (nframes + groupgap);
    planes past the end of the dark are extrapolated: plane k = last + (k - last index) *
    (last - previous).  NaN (after extrapolation) counts as 0.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Ramps, DN; corrected in place.
    dark : ndarray, float, (nframes_dark, ny, nx) or (nints_dark, nframes_dark, ny, nx)
        Dark, DN (4-D: one ramp per integration, MIRI).
    nframes, groupgap : int
        Science group structure in units of dark planes (1, 0 when they already match).
    int_start : int
        1-based exposure number of ``data[0]`` (INTSTART).

    Raises
    ------
    ReferenceFileError
        Extrapolation needed but the dark has fewer than 2 planes.

    Examples
    --------
    NFRAMES=2, GROUPGAP=1 science groups from a 4-frame dark (0, 1, 2, 3 DN): group 0 averages
    frames 0, 1 (0.5 DN); group 1 frames 3, 4, frame 4 extrapolated to 4 DN (3.5 DN).

    >>> data = np.full((1, 2, 1, 1), 10.0, np.float32)
    >>> dark = np.array([0.0, 1.0, 2.0, 3.0], np.float32).reshape(4, 1, 1)
    >>> subtract_dark_inplace(data, dark, nframes=2, groupgap=1); data.ravel().tolist()
    [9.5, 6.5]
    """
    nints, ngroups = data.shape[:2]
    needed = ngroups * nframes + (ngroups - 1) * groupgap
    if needed > dark.shape[-3] and dark.shape[-3] < 2:
        raise ReferenceFileError(f"dark has {dark.shape[-3]} plane(s): cannot extrapolate to {needed}")
    for g in range(ngroups):
        start = g * (nframes + groupgap)
        if dark.ndim == 3:
            _subtract_group(data[:, g], dark, start, nframes)
            continue
        for i in range(nints):
            # jwst: the dark's own integrations apply only from the first integration of the exposure.
            di = i if (int_start == 1 and i < dark.shape[0]) else dark.shape[0] - 1
            _subtract_group(data[i:i + 1, g], dark[di], start, nframes)


def average_dark_current(value: float | None, ref: RefData, shape: tuple[int, int]) -> tuple[np.ndarray, str]:
    """The average dark current map, e-/s, float32 (ny, nx), and where it came from.

    Priority: the step parameter, the reference's 2-D AVDRKCUR extension (if non-zero and of the
    right shape), the reference's AVDRKCUR keyword (0 when absent).

    Examples
    --------
    >>> from astropy.io import fits
    >>> ref = RefData("dark", "test", fits.Header({"AVDRKCUR": 0.5}))
    >>> a, src = average_dark_current(None, ref, (1, 2)); a.tolist(), src
    ([[0.5, 0.5]], 'AVDRKCUR keyword')
    """
    if value is not None:
        return np.full(shape, value, np.float32), "parameter"
    arr = ref.arrays.get("AVDRKCUR")
    if arr is not None and np.nansum(arr) != 0 and arr.shape == tuple(shape):
        return np.asarray(arr, dtype=np.float32), "AVDRKCUR extension"
    return np.full(shape, float(ref.header.get("AVDRKCUR", 0.0) or 0.0), np.float32), "AVDRKCUR keyword"


def _structure(ref: RefData, nframes: int, groupgap: int) -> tuple[int, int] | None:
    """Science group structure in dark planes, or None when the dark cannot be rebuilt."""
    d_nframes = int(ref.header.get("NFRAMES", 1) or 1)
    d_gap = int(ref.header.get("GROUPGAP", 0) or 0)
    if (d_nframes, d_gap) == (nframes, groupgap):
        return 1, 0
    if d_nframes > nframes or d_gap > groupgap or (d_nframes, d_gap) != (1, 0):
        return None
    return nframes, groupgap


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[RampModel, StepReport]:
    """Subtract the dark from ``model.data`` in place; set ``model.average_dark_current``."""
    if params.skip:
        return model, skipped("skipped by parameter")
    if "dark" not in refs:
        return model, skipped("no dark reference file applies")
    ref = refs["dark"]
    meta = model.meta
    shape = model.pixeldq.shape
    dark = ref_array(ref, "SCI", shape, ndim=(3, 4))
    structure = _structure(ref, meta.nframes, meta.groupgap)
    if structure is None:
        return model, skipped(f"dark NFRAMES/GROUPGAP ({ref.header.get('NFRAMES')}/{ref.header.get('GROUPGAP')}) "
                              f"cannot be rebuilt to the science {meta.nframes}/{meta.groupgap}")
    nframes, groupgap = structure
    subtract_dark_inplace(model.data, dark, nframes, groupgap, integration_start(model.header))
    or_dq(model.pixeldq, ref_dq(ref, shape))
    model.average_dark_current, source = average_dark_current(params.average_dark_current, ref, shape)
    needed = model.data.shape[1] * nframes + (model.data.shape[1] - 1) * groupgap
    notes = [f"average_dark_current from {source}"]
    if needed > dark.shape[-3]:
        notes.append(f"dark extrapolated from {dark.shape[-3]} to {needed} planes")
    if params.dark_output:
        notes.append(f"dark_output={params.dark_output!r} not written by the step")
    return model, StepReport(note="; ".join(notes))
