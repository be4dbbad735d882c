"""An exposure's header checked against its data and its detector, and the references
checked against the data, once, before any step runs.

A step indexes the data with the reference arrays (``data[..., mask != 0]``,
``ramp >= saturation``): any disagreement in shape is an ``IndexError`` or a broadcast error
deep in a kernel.  Here it is found where it arises:

- :func:`check_exposure_window` and :func:`check_frame`: the header's window (SUBSTRT/SUBSIZE)
  lies on the detector and has the data's frame shape.  A window that does not is the *file's*
  fault -- the references are cut by that window -- so it is bad input, never a reference
  problem that would be retried;
- :func:`check_ramp_arrays`: a RampModel's DQ arrays agree with its data (models made in
  memory do not pass through the reader);
- :func:`check_reference_arrays`: every frame-sized array of a reference, as cut for the
  exposure, has the data's frame shape; one that does not is a broken reference file.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from ..detectors import DETECTORS
from ..errors import BadInputError, ReferenceFileError

__all__ = ["check_exposure_window", "check_frame", "check_ramp_arrays", "check_reference_arrays", "KERNEL_MAX"]

#: Reference arrays whose last two axes are both at most this many pixels are kernels (IPC's
#: 3x3), not frames, and are not compared with the data's frame.
KERNEL_MAX = 9


def _is_irs2(meta: Any) -> bool:
    """NIRSpec IRS2 raw data interleave reference pixels: 3200 columns for a 2048 window."""
    return str(meta.readpatt).startswith("NRSIRS2")


def check_exposure_window(path: str | os.PathLike, meta: Any) -> None:
    """Refuse a raw exposure whose detector is unknown or whose window does not lie on the
    detector.

    Raises
    ------
    BadInputError
        ``check="keywords"`` (detector, instrument) or ``"window"``.
    """
    detector = DETECTORS.get(meta.detector)
    if detector is None:
        raise BadInputError(path, "keywords", f"DETECTOR {meta.detector!r} is not a JWST detector")
    if detector.instrument != meta.instrument:
        raise BadInputError(path, "keywords", f"DETECTOR {meta.detector} belongs to {detector.instrument}, "
                                              f"not INSTRUME {meta.instrument}")
    full_ny, full_nx = detector.shape
    x_end, y_end = meta.substrt1 + meta.subsize1 - 1, meta.substrt2 + meta.subsize2 - 1
    if x_end > full_nx or y_end > full_ny:
        raise BadInputError(path, "window", f"SUBSTRT=({meta.substrt1},{meta.substrt2}) SUBSIZE=({meta.subsize1},"
                                            f"{meta.subsize2}) reaches ({x_end},{y_end}), beyond the "
                                            f"{full_nx}x{full_ny} frame of {meta.detector}")


def check_frame(path: str | os.PathLike, meta: Any, frame: tuple[int, int]) -> None:
    """Refuse data whose frame ``(ny, nx)`` is not the header's window (SUBSIZE2 x SUBSIZE1),
    by which every reference is cut.  (A reader accepts it: archive header-only files keep
    the real window in the header and a 1x1 SCI.)

    Raises
    ------
    BadInputError
        ``check="window"``.
    """
    ny, nx = frame
    if ny != meta.subsize2 or (nx != meta.subsize1 and not _is_irs2(meta)):
        raise BadInputError(path, "window", f"data frame is {ny}x{nx} (rows x columns) but SUBSIZE2 x SUBSIZE1 "
                                            f"is {meta.subsize2}x{meta.subsize1}")


def check_ramp_arrays(path: str | os.PathLike, model: Any) -> None:
    """Refuse a RampModel whose PIXELDQ, GROUPDQ or ZEROFRAME disagree with its 4-D data.

    Raises
    ------
    BadInputError
        ``check="shape"``.
    """
    data = model.data
    if data.ndim != 4:
        raise BadInputError(path, "shape", f"the ramp must be 4-D, got {data.shape}")
    nints, _, ny, nx = data.shape
    wanted = {"pixeldq": (ny, nx), "groupdq": data.shape, "zeroframe": (nints, ny, nx)}
    for name, shape in wanted.items():
        array = getattr(model, name, None)
        if array is not None and array.shape != shape:
            raise BadInputError(path, "shape", f"{name} has shape {array.shape}, the ramp {data.shape}")


def check_reference_arrays(refs: Mapping[str, Any], frame: tuple[int, int], step: str) -> None:
    """Refuse references whose frame-sized arrays are not the data's frame ``(ny, nx)``.

    Parameters
    ----------
    refs : mapping
        ``{reftype: RefData}`` as cut for the exposure.
    frame : (int, int)
        The data's ``(ny, nx)``.
    step : str
        The step about to use them (named in the error).

    Raises
    ------
    ReferenceFileError
        Naming the file, the array and both shapes.
    """
    for reftype, ref in refs.items():
        for name, array in getattr(ref, "arrays", {}).items():
            if array.ndim < 2 or (array.shape[-2] <= KERNEL_MAX and array.shape[-1] <= KERNEL_MAX):
                continue
            if tuple(array.shape[-2:]) != tuple(frame):
                raise ReferenceFileError(f"{step}: {reftype} reference {ref.path} has {name} of shape "
                                         f"{array.shape}; the data frame is {tuple(frame)}")
