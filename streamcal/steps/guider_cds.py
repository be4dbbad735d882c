"""guider_cds (calwebb_guider; GAIN, READNOISE): count rates of FGS guide-mode exposures.

Output: a guider ``cal`` ImageModel, SCI (nints, ny, nx) DN/s (one plane for the ID modes),
ERR same shape, DQ = the 2-D PIXELDQ (mask flags), as jwst 3.0.  With tg = TGROUP:

* FGS_ACQ1, FGS_ACQ2, FGS_TRACK: per integration (group 1 - group 0) / tg;
* FGS_FINEGUIDE: (mean of the last 4 groups - mean of the first 4) / tg;
* FGS_ID-IMAGE, FGS_ID-STACK: min(diff of integration 0, diff of integration 1) / tg, one plane
  (a single-integration ID exposure uses its only difference).

ERR (DN/s) is the standard deviation of that rate, which differs from jwst 3.0 (note in the
report): jwst uses sqrt(2 (RN/tg)^2 + max(diff, 0)/(gain tg)), which treats the CDS read noise as
a per-read noise and divides the Poisson term by tg instead of tg^2 (its unit is not (DN/s)^2).
Here, with RN_read = RN_cds / sqrt(2) the noise of one read (READNOISE holds CDS noise, DN) and
NFRAMES frames per group::

    var(diff) = 2 RN_read^2 / (NFRAMES * n_avg) + f * max(diff, 0) / gain      [DN^2]
    ERR = sqrt(var(diff)) / tg

n_avg = groups averaged at each end (1; 4 for FINEGUIDE) and f = sum(c^2)/sum(c) the Poisson
factor of the difference of averages (c = weight of each inter-read interval: f = 1 for a CDS,
0.6875 for an 8-group FINEGUIDE).  Pixels with no valid gain (<= 0 or NaN) get a read-noise-only
ERR and NO_GAIN_VALUE in DQ.  Without the GAIN/READNOISE references ERR is NaN (noted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from .. import dqflags
from ..errors import BadInputError
from ..models import ImageModel, RampModel
from ..refs.model import RefData
from ._common import or_dq, ref_array
from .base import StepParams, StepReport, skipped

NAME = "guider_cds"
STATUS_KEYWORD = "S_GUICDS"
REFTYPES = ("gain", "readnoise")
OPTIONAL_REFTYPES: tuple[str, ...] = ()

ERR_NOTE = ("ERR is the physical standard deviation of the rate (CDS read noise and Poisson "
            "variance in DN^2 divided by TGROUP^2); jwst 3.0 uses sqrt(2(RN/tg)^2 + max(diff,0)/"
            "(gain tg)), which double-counts the CDS read noise and has a Poisson term in the "
            "wrong unit, so ERR differs from jwst's")


@dataclass(frozen=True)
class Params(StepParams):
    """guider_cds has no parameters besides ``skip``."""


def end_means(ramp: np.ndarray, navg: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the first and of the last ``navg`` groups of one integration (ngroups, ny, nx), DN."""
    first = ramp[:navg].astype(np.float64).mean(axis=0)
    last = ramp[-navg:].astype(np.float64).mean(axis=0)
    return first, last


def poisson_factor(ngroups: int, navg: int) -> float:
    """Var/mean of the Poisson signal in (mean of last ``navg`` - mean of first ``navg``) groups.

    The difference weights the charge collected in inter-group interval m by c_m = (number of
    the navg read pairs spanning it) / navg; its variance is sum(c^2) times the per-interval
    variance and its mean sum(c) times the per-interval mean.

    Examples
    --------
    >>> poisson_factor(2, 1), poisson_factor(8, 4)
    (1.0, 0.6875)
    """
    weights = np.zeros(ngroups - 1)
    for k in range(navg):
        weights[k:ngroups - navg + k] += 1.0 / navg
    return float((weights ** 2).sum() / weights.sum())


def cds_rates(data: np.ndarray, exp_type: str, tgroup: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Rates and the differences they come from.

    Parameters
    ----------
    data : ndarray, float32, (nints, ngroups, ny, nx)
        Guider ramps, DN.
    exp_type : str
        FGS EXP_TYPE.
    tgroup : float
        TGROUP, s.

    Returns
    -------
    rate : ndarray, float32, (nplanes, ny, nx)
        DN/s.
    diff : ndarray, float64, same shape
        Differences, DN.
    navg : int
        Groups averaged at each end.

    Examples
    --------
    >>> d = np.array([[10, 14], [10, 12]], np.float32).reshape(2, 2, 1, 1)
    >>> r, _, _ = cds_rates(d, "FGS_ACQ1", 0.5); r.ravel().tolist()
    [8.0, 4.0]
    >>> r, _, _ = cds_rates(d, "FGS_ID-IMAGE", 0.5); r.ravel().tolist()
    [4.0]
    """
    navg = 4 if exp_type == "FGS_FINEGUIDE" else 1
    if data.shape[1] < 2 * navg:
        raise BadInputError("", "shape", f"{exp_type} needs at least {2 * navg} groups, got {data.shape[1]}")
    diffs = []
    for i in range(data.shape[0]):
        first, last = end_means(data[i], navg)
        diffs.append(last - first)
    diff = np.stack(diffs)
    if exp_type.startswith("FGS_ID"):
        diff = np.minimum.reduce(diff[:2])[np.newaxis]
    return (diff / tgroup).astype(np.float32), diff, navg


def cds_error(diff: np.ndarray, gain: np.ndarray, rn_cds: np.ndarray, tgroup: float, nframes: int,
              navg: int, ngroups: int) -> np.ndarray:
    """ERR of the rate, DN/s (formula in the module doc).

    Parameters
    ----------
    diff : ndarray, float64, (nplanes, ny, nx)
        Differences, DN.
    gain : ndarray, float, (ny, nx)
        e-/DN; invalid (<= 0, NaN) -> read noise only.
    rn_cds : ndarray, float, (ny, nx)
        CDS read noise, DN.
    tgroup : float
        s.
    nframes, navg, ngroups : int

    Examples
    --------
    RN_cds = 10 DN, gain 2 e-/DN, diff 200 DN, tg = 2 s: sqrt(100 + 200/2) / 2 = 7.071 DN/s.

    >>> e = cds_error(np.full((1, 1, 1), 200.0), np.full((1, 1), 2.0), np.full((1, 1), 10.0), 2.0, 1, 1, 2)
    >>> round(float(e[0, 0, 0]), 3)
    7.071
    """
    read_var = rn_cds.astype(np.float64) ** 2 / (nframes * navg)  # 2 RN_read^2 = RN_cds^2
    good = np.isfinite(gain) & (gain > 0)
    inv_gain = np.where(good, 1.0 / np.where(good, gain, 1.0), 0.0)
    poisson = poisson_factor(ngroups, navg) * np.maximum(diff, 0.0) * inv_gain
    return (np.sqrt(read_var + poisson) / tgroup).astype(np.float32)


def run(model: RampModel, refs: Mapping[str, RefData], params: Params = Params()) -> tuple[ImageModel | RampModel, StepReport]:
    """Guider ramps -> count-rate ImageModel (SCI, ERR DN/s; DQ = PIXELDQ)."""
    if params.skip:
        return model, skipped("skipped by parameter")
    meta = model.meta
    try:
        rate, diff, navg = cds_rates(model.data, meta.exp_type, meta.tgroup)
    except BadInputError as exc:
        raise BadInputError(meta.filename, exc.check, exc.reason) from None
    dq = model.pixeldq.copy()
    shape = dq.shape
    notes = [ERR_NOTE]
    if "gain" in refs and "readnoise" in refs:
        gain = ref_array(refs["gain"], "SCI", shape, ndim=(2,))
        rn = ref_array(refs["readnoise"], "SCI", shape, ndim=(2,))
        err = cds_error(diff, gain, rn, meta.tgroup, meta.nframes, navg, model.data.shape[1])
        or_dq(dq, dqflags.NO_GAIN_VALUE, where=~(np.isfinite(gain) & (gain > 0)))
    else:
        err = np.full(rate.shape, np.nan, np.float32)
        notes = ["ERR not computed (NaN): no gain/readnoise reference file"]
    out = ImageModel(meta=meta, header=model.header.copy(), data=rate, err=err, dq=dq,
                     sci_header=model.sci_header.copy(), int_times=model.int_times, bunit="DN/s")
    return out, StepReport(note="; ".join([f"{meta.exp_type}: {rate.shape[0]} rate plane(s)"] + notes))
