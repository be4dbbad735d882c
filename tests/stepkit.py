"""Small builders shared by the tests of the detector-level steps (tests/test_step_*.py)."""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from streamcal.models import ExposureMeta, RampModel
from streamcal.refs.model import RefData

NIR_DEFAULTS = dict(INSTRUME="NIRCAM", DETECTOR="NRCA1", EXP_TYPE="NRC_IMAGE", NFRAMES=1,
                    GROUPGAP=0, TFRAME=10.0, TGROUP=10.0, READPATT="RAPID", SUBARRAY="FULL",
                    SUBSTRT1=1, SUBSTRT2=1, FASTAXIS=-1, SLOWAXIS=2, NOUTPUTS=4, FRMDIVSR=1)
MIRI_DEFAULTS = dict(INSTRUME="MIRI", DETECTOR="MIRIMAGE", EXP_TYPE="MIR_IMAGE", NFRAMES=1,
                     GROUPGAP=0, TFRAME=2.775, TGROUP=2.775, READPATT="FAST", SUBARRAY="FULL",
                     SUBSTRT1=1, SUBSTRT2=1, FASTAXIS=1, SLOWAXIS=2, NOUTPUTS=4, FRMDIVSR=1)


def header(nints: int, ngroups: int, ny: int, nx: int, miri: bool = False, **keys) -> fits.Header:
    """A primary header with the keywords ExposureMeta needs (defaults overridable)."""
    values = dict(MIRI_DEFAULTS if miri else NIR_DEFAULTS)
    values.update(NINTS=nints, NGROUPS=ngroups, SUBSIZE1=nx, SUBSIZE2=ny, FILENAME="test_uncal.fits")
    values.update(keys)
    return fits.Header(values)


def ramp(data, miri: bool = False, pixeldq=None, groupdq=None, zeroframe=None, **keys) -> RampModel:
    """RampModel around ``data`` (nints, ngroups, ny, nx), float32 DN."""
    data = np.ascontiguousarray(data, dtype=np.float32)
    nints, ngroups, ny, nx = data.shape
    hdr = header(nints, ngroups, ny, nx, miri=miri, **keys)
    meta = ExposureMeta.from_header(hdr, data.shape)
    pdq = np.zeros((ny, nx), np.uint32) if pixeldq is None else np.asarray(pixeldq, np.uint32)
    gdq = np.zeros(data.shape, np.uint8) if groupdq is None else np.asarray(groupdq, np.uint8)
    zf = None if zeroframe is None else np.asarray(zeroframe, np.float32)
    return RampModel(meta=meta, header=hdr, data=data, pixeldq=pdq, groupdq=gdq, zeroframe=zf)


def ref(reftype: str, header: dict | None = None, tables: dict | None = None, **arrays) -> RefData:
    """RefData built directly (as the reference loader would return it)."""
    return RefData(reftype, path="test", header=fits.Header(header or {}),
                   arrays={k: np.asarray(v) for k, v in arrays.items()}, tables=tables or {})
