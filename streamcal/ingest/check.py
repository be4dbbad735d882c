"""Is a landed file ready? ``inspect`` classifies a candidate as ok, incomplete or bad.

Completeness comes from the FITS headers (the file is as long as its HDUs declare, see
:mod:`streamcal.boundary.layout`); when the headers cannot tell (not written yet, or ambiguous),
the file must have been left unchanged for ``stable_seconds``. Nothing here follows a symlink,
opens anything but a regular file, or reads FITS data.  The name and the structure are judged
by the input boundary's rules (:mod:`streamcal.boundary.files`: printable bounded names, bounded
headers, no tile-compressed HDUs), so what ingest accepts the readers accept too.
"""

from __future__ import annotations

import enum
import hashlib
import os
import stat
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from ..boundary.files import MAX_HDUS, MAX_HEADER_BLOCKS, check_layout, check_name
from ..errors import BadInputError
from ..boundary.layout import LayoutError, scan_layout

__all__ = ["Status", "Inspection", "inspect", "inspect_asn", "content_sha256", "group_by_content", "MAX_BYTES"]

#: Default limit on the total size the headers of one file may declare (64 GiB).
MAX_BYTES = 64 * 2**30


class Status(str, enum.Enum):
    """What ingest should do with a candidate."""

    OK = "ok"                  #: complete: hand it on
    INCOMPLETE = "incomplete"  #: still being written: look again later
    BAD = "bad"                #: quarantine it, with ``check`` and ``reason``
    GONE = "gone"              #: no longer there (renamed away or deleted): forget it


@dataclass(frozen=True)
class Inspection:
    """The verdict on one candidate.

    Attributes
    ----------
    path : Path
    status : Status
    check : str
        Short name of the deciding check: ``"fits"``, ``"size"``, ``"truncated"``, ``"empty"``,
        ``"symlink"``, ``"regular_file"``, ``"read"``, ``"incomplete"``, ``"stable"`` (ok by
        stability), ``"layout"`` (ok by headers), ``"exists"``.
    reason : str
        One line for people (and for the quarantine's ``reason.json``).
    size : int or None
        Bytes at inspection time (None when there is no regular file).
    mtime_ns : int or None
        Modification time at inspection time, nanoseconds.
    declared : int or None
        Bytes the headers account for so far.
    """

    path: Path
    status: Status
    check: str
    reason: str
    size: int | None = None
    mtime_ns: int | None = None
    declared: int | None = None

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    @property
    def bad(self) -> bool:
        return self.status is Status.BAD

    @property
    def incomplete(self) -> bool:
        return self.status is Status.INCOMPLETE

    @property
    def fingerprint(self) -> tuple[int | None, int | None]:
        """``(size, mtime_ns)``: changes whenever the file is written."""
        return self.size, self.mtime_ns


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _link_verdict(path: Path, landing: str) -> Inspection:
    target = os.path.realpath(path)  # resolves names only; the target is never opened
    if not _inside(target, landing):
        return Inspection(path, Status.BAD, "symlink",
                          f"symlink pointing outside the landing directory (-> {target}); not followed")
    return Inspection(path, Status.BAD, "symlink",
                      f"symlink (-> {target}); links are never followed, the target is ingested on its own")


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return name
    return "not a regular file"


def _not_a_plain_file(path: Path, root: str, mode: int) -> Inspection | None:
    """The verdict on a symlink, a path leading outside the landing directory, anything but a
    regular file, or a name the boundary refuses; None for a plain regular file."""
    if stat.S_ISLNK(mode):
        return _link_verdict(path, root)
    if not _inside(os.path.realpath(path), root):
        return Inspection(path, Status.BAD, "symlink", "path resolves outside the landing directory")
    if not stat.S_ISREG(mode):
        return Inspection(path, Status.BAD, "regular_file", f"{_kind(mode)}, not a regular file")
    try:
        check_name(path)
    except BadInputError as err:
        return Inspection(path, Status.BAD, err.check, err.reason)
    return None


def _scan(path: Path, size: int, max_bytes: int):
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        return scan_layout(f, size, max_bytes=max_bytes, max_header_blocks=MAX_HEADER_BLOCKS, max_hdus=MAX_HDUS)


def inspect(path: str | os.PathLike, landing: str | os.PathLike, *, stable_seconds: float = 2.0,
            settle_seconds: float = 0.0, max_bytes: int = MAX_BYTES, now: float | None = None) -> Inspection:
    """Classify a candidate in the landing directory as ok, incomplete, bad or gone.

    Parameters
    ----------
    path : path-like
        The candidate (inside ``landing``).
    landing : path-like
        The landing directory; anything resolving outside it is bad.
    stable_seconds : float
        A file the headers cannot vouch for (header not finished, data short, or only an empty
        primary HDU so far) becomes ok (empty primary) or bad (``"truncated"``, ``"empty"``)
        once unmodified for this long; until then it is incomplete.
    settle_seconds : float
        Even a file complete by its headers stays incomplete until unmodified this long
        (guards a writer caught exactly between two HDUs; 0 trusts the headers).
    max_bytes : int
        Headers declaring more than this are bad (``"size"``) immediately, never allocated.
    now : float, optional
        Current time (seconds since the epoch) for the age of the file; default ``time.time()``.

    Returns
    -------
    Inspection
    """
    path = Path(path)
    root = os.path.realpath(landing)
    now = time.time() if now is None else now
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Inspection(path, Status.GONE, "exists", "no such file")
    kind = _not_a_plain_file(path, root, st.st_mode)
    if kind is not None:
        return kind
    age = now - st.st_mtime
    stable = age >= stable_seconds
    base = dict(size=st.st_size, mtime_ns=st.st_mtime_ns)
    if st.st_size == 0:
        if stable:
            return Inspection(path, Status.BAD, "empty", f"zero-byte file (unchanged for {age:.1f} s)", **base)
        return Inspection(path, Status.INCOMPLETE, "empty", "zero bytes so far", **base)
    try:
        layout = _scan(path, st.st_size, max_bytes)
    except FileNotFoundError:
        return Inspection(path, Status.GONE, "exists", "no such file")
    except LayoutError as err:
        return Inspection(path, Status.BAD, err.check, err.reason, **base)
    except OSError as err:
        return Inspection(path, Status.BAD, "read", f"cannot read: {err.strerror or err}", **base)
    base["declared"] = layout.declared
    if layout.complete:
        try:
            check_layout(path, layout)  # tile compression: refused now, not when a worker reads it
        except BadInputError as err:
            return Inspection(path, Status.BAD, err.check, err.reason, **base)
    if not layout.complete:
        if stable:
            return Inspection(path, Status.BAD, "truncated",
                              f"truncated: {layout.waiting_for} (unchanged for {age:.1f} s)", **base)
        return Inspection(path, Status.INCOMPLETE, "incomplete", layout.waiting_for, **base)
    if len(layout.hdu_ends) == 1 and not layout.primary_has_data:
        if stable:
            return Inspection(path, Status.OK, "stable",
                              f"only an empty primary HDU, unchanged for {age:.1f} s", **base)
        return Inspection(path, Status.INCOMPLETE, "incomplete",
                          "only an empty primary HDU so far (extensions may follow)", **base)
    if age < settle_seconds:
        return Inspection(path, Status.INCOMPLETE, "incomplete",
                          f"complete by its headers but modified {age:.2f} s ago", **base)
    return Inspection(path, Status.OK, "layout",
                      f"{len(layout.hdu_ends)} HDUs, {layout.declared} bytes as declared", **base)


#: Largest association (ASN JSON) file accepted from the landing directory (they are a few kB).
MAX_ASN_BYTES = 4 << 20


def inspect_asn(path: str | os.PathLike, landing: str | os.PathLike, *, stable_seconds: float = 2.0,
                now: float | None = None) -> Inspection:
    """Classify an association file (``*_asn.json``) like :func:`inspect` does a FITS file:
    ok once it parses as a valid ASN; bad when too large, or still invalid after
    ``stable_seconds`` unchanged (``check="asn"``); incomplete before that."""
    from ..associations import AsnError, read_asn

    verdict = inspect(path, landing, stable_seconds=stable_seconds, now=now)
    if verdict.status in (Status.GONE,) or verdict.check in ("symlink", "regular_file", "empty"):
        return verdict
    path = Path(path)
    base = dict(size=verdict.size, mtime_ns=verdict.mtime_ns)
    if (verdict.size or 0) > MAX_ASN_BYTES:
        return Inspection(path, Status.BAD, "size", f"{verdict.size} bytes is too large for an association", **base)
    try:
        read_asn(path)
    except AsnError as err:
        age = (time.time() if now is None else now) - verdict.mtime_ns / 1e9
        if age >= stable_seconds:
            return Inspection(path, Status.BAD, "asn", f"not a valid association: {err}", **base)
        return Inspection(path, Status.INCOMPLETE, "asn", "not a valid association yet", **base)
    return Inspection(path, Status.OK, "asn", "a valid association", **base)


def content_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file's bytes, read in ``chunk``-byte pieces (symlinks refused).

    Raises
    ------
    OSError
        Unreadable file, or ``path`` is a symlink (``ELOOP``).
    """
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def group_by_content(paths: Iterable[str | os.PathLike]) -> dict[str, list[Path]]:
    """Group files by content: SHA-256 → the paths holding exactly those bytes, in input order.

    The first path of each group is the one to process; the rest are duplicates (same content,
    perhaps another name). The durable deduplication is the ledger's (unique ``sha256``).
    """
    groups: dict[str, list[Path]] = defaultdict(list)
    for p in paths:
        groups[content_sha256(p)].append(Path(p))
    return dict(groups)
