"""A file from outside, before any FITS library sees it: name, kind, structure, compression.

:func:`open_checked` is the one way the readers open a FITS file.  It refuses, with a
:class:`~streamcal.errors.BadInputError`, everything that made a reader hang, crash or allocate
without bound:

- a name that is not printable ASCII or longer than :data:`MAX_NAME` characters (JWST names are
  ~50 ASCII characters; a name that is not cannot be logged, quarantined or reported safely);
- anything but a regular file (a FIFO would block ``open`` forever, a device read forever) --
  opened with ``O_NONBLOCK`` and checked with ``fstat`` on the open descriptor, so no swap
  between check and open can slip one in;
- bytes that do not walk as FITS (:func:`streamcal.boundary.layout.scan_layout`: every header
  within :data:`MAX_HEADER_BLOCKS` blocks of printable ASCII ending in END, every declared
  size adding up to exactly the file's length).  A header with no END card in a large file
  is what made astropy read and re-parse the whole file; here it costs at most
  :data:`MAX_HEADER_BLOCKS` blocks;
- tile-compressed HDUs (``ZIMAGE = T``): JWST raw and calibrated files are never
  tile-compressed, and decompression is where zlib and cfitsio failed or aborted the process
  (HCOMPRESS) and where a ``ZNAXISn = 2**62`` asks for an absurd allocation.  They are refused
  unread, so no compressed byte ever reaches cfitsio.
"""

from __future__ import annotations

import os
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator

from ..errors import BadInputError
from .layout import HduSummary, Layout, LayoutError, scan_layout
from .keywords import is_printable_ascii

__all__ = ["MAX_NAME", "MAX_HEADER_BLOCKS", "MAX_HDUS", "MAX_FILE_BYTES", "check_name", "open_checked",
           "check_layout"]

#: Longest file name accepted, characters (leaves room for ``.reason.json`` and ``~N`` within
#: the 255-byte name limit of Linux file systems).
MAX_NAME = 200
#: Longest header accepted, 2880-byte blocks (7200 cards; JWST headers have a few hundred).
MAX_HEADER_BLOCKS = 200
#: Most HDUs accepted in one file (NIRSpec MOS products have a few thousand).
MAX_HDUS = 20_000
#: Largest file the readers open (64 GiB); memory is bounded separately (:mod:`.budget`).
MAX_FILE_BYTES = 64 * 2**30


def check_name(path: str | os.PathLike) -> None:
    """Refuse a file name that is not printable ASCII or longer than :data:`MAX_NAME`.

    Raises
    ------
    BadInputError
        ``check="name"``.
    """
    name = Path(path).name
    if not is_printable_ascii(name):
        raise BadInputError(path, "name", f"file name {ascii(name)[:80]} is not printable ASCII")
    if len(name) > MAX_NAME:
        raise BadInputError(path, "name", f"file name of {len(name)} characters (at most {MAX_NAME})")


def _open_regular(path: Path) -> BinaryIO:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise BadInputError(path, "exists", "no such file") from None
    except OSError as exc:
        raise BadInputError(path, "read", f"cannot open: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise BadInputError(path, "regular_file", "not a regular file (directory, pipe, socket or device)")
    return os.fdopen(fd, "rb")


def check_layout(path: str | os.PathLike, layout: Layout) -> None:
    """Refuse a layout that is incomplete or holds a tile-compressed HDU.

    Raises
    ------
    BadInputError
        ``check="truncated"`` or ``"compressed"``.
    """
    if not layout.complete:
        raise BadInputError(path, "truncated", f"not a complete FITS file: {layout.waiting_for}")
    for hdu in layout.hdus:
        if hdu.compression:
            raise BadInputError(path, "compressed", _compressed_reason(hdu))


def _compressed_reason(hdu: HduSummary) -> str:
    return (f"HDU {hdu.index} ({hdu.extname or hdu.xtension}) is tile-compressed ({hdu.compression}); "
            "JWST exposures and products are never tile-compressed, so it is refused unread")


@contextmanager
def open_checked(path: str | os.PathLike, *, max_bytes: int = MAX_FILE_BYTES) -> Iterator[tuple[BinaryIO, Layout]]:
    """Open a FITS file for reading after every check of this module.

    Yields
    ------
    (file, Layout)
        The open binary file (positioned at 0) and what its headers declare.

    Raises
    ------
    BadInputError
        Bad name, not a regular file, not FITS, truncated, too large, tile-compressed.
    """
    path = Path(path)
    check_name(path)
    fh = _open_regular(path)
    try:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise BadInputError(path, "fits", "not a readable FITS file: zero bytes")
        try:
            layout = scan_layout(fh, size, max_bytes=max_bytes, max_header_blocks=MAX_HEADER_BLOCKS,
                                 max_hdus=MAX_HDUS)
        except LayoutError as err:
            check = "size" if err.check == "size" else "fits"
            raise BadInputError(path, check, f"not a readable FITS file: {err.reason}") from None
        except OSError as exc:
            raise BadInputError(path, "read", f"cannot read: {exc.strerror or exc}") from None
        check_layout(path, layout)
        fh.seek(0)
        yield fh, layout
    finally:
        fh.close()
