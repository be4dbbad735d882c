"""Synthetic PSFMASK references for coronagraphy (jwst PsfMaskModel: one SCI image, 0..1).

One file per detector, coronagraphic EXP_TYPE, subarray and filter, on the exposure's window,
as CRDS selects PSFMASK files (DETECTOR, FILTER and SUBARRAY).  The mask is the occulter's
transmission around the mask centre, ``1 - exp(-r^2 / (2 w^2))`` with ``w`` =
:data:`OCCULTER_WIDTH` pixels, times a frame of :data:`EDGE_PIXELS` zero pixels (the Fourier
alignment of align_refs wraps around the edges; they must not weigh).  The simulator
(:mod:`streamcal.sim.coron`) attenuates the star with :func:`transmission`, so the mask and
the data agree.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits

from ..detectors import Detector
from ..models import ExposureMeta
from . import synthetic as syn
from .io import reffile_hdulist

__all__ = ["CORON_TYPES", "OCCULTER_WIDTH", "EDGE_PIXELS", "mask_centre", "transmission", "psfmask_image",
           "claims", "file_tag", "is_asdf", "build"]

CORON_TYPES = frozenset({"NRC_CORON", "MIR_4QPM", "MIR_LYOT"})
#: Occulter 1/e^0.5 radius, pixels, per instrument.
OCCULTER_WIDTH = {"NIRCAM": 4.0, "MIRI": 3.0}
EDGE_PIXELS = 4


def mask_centre(shape: tuple[int, int]) -> tuple[float, float]:
    """0-based (x, y) of the occulter centre in a coronagraphic window: its middle."""
    return (shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0


def transmission(instrument: str, shape: tuple[int, int]) -> np.ndarray:
    """The occulter's transmission on the window (float64, 0 at the centre, -> 1 far out)."""
    xc, yc = mask_centre(shape)
    y, x = np.indices(shape, dtype=np.float64)
    w = OCCULTER_WIDTH[instrument]
    return 1.0 - np.exp(-((x - xc) ** 2 + (y - yc) ** 2) / (2.0 * w * w))


def psfmask_image(instrument: str, shape: tuple[int, int]) -> np.ndarray:
    """The PSFMASK SCI: transmission with a zero frame (float32)."""
    mask = transmission(instrument, shape)
    e = EDGE_PIXELS
    mask[:e], mask[-e:], mask[:, :e], mask[:, -e:] = 0.0, 0.0, 0.0, 0.0
    return mask.astype(np.float32)


def claims(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    """generate.py contract: PSFMASK of a coronagraphic exposure."""
    return (reftype == "psfmask" and meta is not None and meta.exp_type.upper() in CORON_TYPES
            and detector.instrument in OCCULTER_WIDTH)


def file_tag(reftype: str, detector: Detector, meta: ExposureMeta) -> str:
    """``sub320a335r-f335m-x492y1502``: window and filter (what CRDS selects on)."""
    return f"{meta.subarray.lower()}-{meta.filter.lower()}-x{meta.substrt1}y{meta.substrt2}"


def is_asdf(reftype: str, detector: Detector, meta: ExposureMeta | None) -> bool:
    """generate.py contract: PSFMASK files are FITS, as in CRDS."""
    return False


def build(reftype: str, detector: Detector, meta: ExposureMeta, name: str) -> fits.HDUList:
    """generate.py contract: the PsfMaskModel HDU list named ``name``."""
    shape = (meta.subsize2, meta.subsize1)
    header = {"DATE": "2025-01-01T00:00:00", "FILENAME": name, "DATAMODL": "PsfMaskModel", "TELESCOP": "JWST",
              "INSTRUME": detector.instrument, "DETECTOR": detector.name, "FILTER": meta.filter,
              "EXP_TYPE": meta.exp_type, "SUBARRAY": meta.subarray, "SUBSTRT1": meta.substrt1,
              "SUBSTRT2": meta.substrt2, "SUBSIZE1": meta.subsize1, "SUBSIZE2": meta.subsize2,
              "FASTAXIS": detector.fastaxis, "SLOWAXIS": detector.slowaxis, "REFTYPE": "PSFMASK",
              "USEAFTER": "2022-01-01T00:00:00", "PEDIGREE": "DUMMY",
              "DESCRIP": "synthetic coronagraphic PSF mask (occulter transmission, zero frame)",
              "AUTHOR": "streamcal synthetic reference set",
              "SYNTHVER": (syn.VERSION, "streamcal synthetic reference set version")}
    return reffile_hdulist(header, {"SCI": psfmask_image(detector.instrument, shape)})
