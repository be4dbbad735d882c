"""The input boundary: bytes from outside become typed, checked values here, or a
:class:`~streamcal.errors.BadInputError` naming the file and the problem.

Nothing past this layer sees an unchecked value of a file: the readers of
:mod:`streamcal.fitsio`, the ingest check (:mod:`streamcal.ingest.check`) and
:meth:`streamcal.models.ExposureMeta.from_header` go through it, and the stage-1 runner checks
the references against the data here before a step runs.

- :mod:`.files` -- the file before any FITS library sees it: name (printable ASCII, bounded),
  a regular file (opened without blocking), FITS structure walked with bounded work, declared
  sizes equal to the file's, tile-compressed HDUs refused unread;
- :mod:`.keywords` -- header keywords as typed, range-checked values;
- :mod:`.arrays` -- image and table extensions checked against the header and against each
  other before their data are read; float32 conversion; tables;
- :mod:`.exposure` -- the header's window against the detector and the data; a ramp's DQ arrays
  against its data; the references, as cut, against the data frame;
- :mod:`.budget` -- the memory a file may make a process allocate, checked before it does;
- :mod:`.mutate` and :mod:`.fuzz` -- hostile files made by mutation, run through every entry
  point in bounded worker processes (the fuzz test and benchmark).
"""

from .arrays import RawLayout, checked_image, check_raw, dq_uint32, expect_shape, image_hdu, load, raw_read_bytes, table, to_float32
from .budget import STAGE1_WORKING_SET, check_budget, memory_budget, set_memory_budget
from .exposure import check_exposure_window, check_frame, check_ramp_arrays, check_reference_arrays
from .files import MAX_NAME, check_layout, check_name, open_checked
from .keywords import FLOAT_LIMITS, LIMITS, KeywordReader, is_printable_ascii

__all__ = ["RawLayout", "checked_image", "check_raw", "dq_uint32", "expect_shape", "image_hdu", "load",
           "raw_read_bytes", "table", "to_float32", "STAGE1_WORKING_SET", "check_budget", "memory_budget",
           "set_memory_budget", "check_exposure_window", "check_frame", "check_ramp_arrays", "check_reference_arrays",
           "MAX_NAME", "check_layout", "check_name", "open_checked", "FLOAT_LIMITS", "LIMITS", "KeywordReader",
           "is_printable_ascii"]
