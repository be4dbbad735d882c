"""Quarantine: move a bad input aside (never delete it) with the reason beside it."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from .events import iso_utc

__all__ = ["quarantine", "QUARANTINE_DIR"]

QUARANTINE_DIR = "quarantine"


def _kind(path: Path) -> str:
    if path.is_symlink():
        return "symlink"
    if path.is_dir():
        return "directory"
    return "file"


#: Longest quarantine name kept as it is, in bytes: ``<name>~N.reason.json`` and its temporary
#: ``.<name>.reason.json.XXXXXXXX.part`` must stay within the 255-byte limit of file names.
_MAX_NAME_BYTES = 200


def _short_name(name: str) -> str:
    """``name``, or for a name too long to carry the quarantine's suffixes its first characters,
    a hash of the whole name and its extension (the full name is kept in the reason file)."""
    if len(name.encode("utf-8", "surrogateescape")) <= _MAX_NAME_BYTES:
        return name
    digest = hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    ext = name[name.rfind("."):] if "." in name[-12:] else ""
    head = name[:100].encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore")
    return f"{head}~{digest}{ext[:12]}"


def _reserve(qdir: Path, name: str) -> Path:
    """A free target name in ``qdir``, reserved by creating its ``.reason.json`` exclusively
    (so two quarantines racing for one name get two names): ``name``, ``stem~1.ext``, ..."""
    name = _short_name(name)
    base, dot, ext = name.partition(".") if not name.startswith(".") else (name, "", "")
    for k in range(100000):
        candidate = name if k == 0 else f"{base}~{k}{dot}{ext}"
        target = qdir / candidate
        if os.path.lexists(target):
            continue
        try:
            fd = os.open(qdir / f"{candidate}.reason.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            continue
        os.close(fd)
        if os.path.lexists(target):  # appeared between the check and the reservation
            (qdir / f"{candidate}.reason.json").unlink()
            continue
        return target
    raise RuntimeError(f"no free quarantine name for {name} in {qdir}")


def _move(src: Path, dst: Path) -> None:
    """Rename ``src`` (a file, a symlink itself, or a directory) to ``dst``; across
    filesystems copy to a hidden name beside ``dst`` (links copied as links), rename it into
    place, then remove ``src``."""
    try:
        os.rename(src, dst)
        return
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    tmp = dst.parent / f".{dst.name}.{os.getpid()}.moving"
    try:
        if src.is_symlink():
            os.symlink(os.readlink(src), tmp)
        elif src.is_dir():
            shutil.copytree(src, tmp, symlinks=True)
        else:
            shutil.copy2(src, tmp, follow_symlinks=False)
        os.rename(tmp, dst)
    except BaseException:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp, ignore_errors=True)
        elif os.path.lexists(tmp):
            tmp.unlink()
        raise
    if src.is_dir() and not src.is_symlink():
        shutil.rmtree(src)
    else:
        src.unlink()


def quarantine(path: str | os.PathLike, products_dir: str | os.PathLike, *, check: str,
               reason: str, when: float | None = None) -> Path:
    """Move a bad input into ``<products_dir>/quarantine/`` and write why beside it.

    The input is moved, never deleted: ``os.rename`` on one filesystem, copy then remove
    across filesystems.  Regular files, zero-byte files, directories and symlinks are all
    moved as they are (a symlink is moved itself; its target is not followed or touched).
    A name already taken in the quarantine gets ``~1``, ``~2``, ... before its extension.
    Beside it, ``<name>.reason.json`` holds ``{file, original_path, check, reason, time,
    seconds, kind, size}`` (and ``link_target`` for a symlink), written atomically.

    Delivery: exactly-once per call; calling again for a path already moved raises
    ``FileNotFoundError`` (the ledger says it was quarantined).

    Parameters
    ----------
    path : str or Path
        The input to move.
    products_dir : str or Path
        The products directory; ``quarantine/`` is created inside it.
    check, reason : str
        Which check failed, and one line saying what was wrong.
    when : float, optional
        Seconds since the epoch (now by default).

    Returns
    -------
    Path
        Where the input is now.
    """
    src = Path(path)
    if not os.path.lexists(src):
        raise FileNotFoundError(f"cannot quarantine {src}: it does not exist")
    seconds = time.time() if when is None else float(when)
    kind = _kind(src)
    info = {"file": src.name, "original_path": str(src.absolute()), "check": check, "reason": reason,
            "time": iso_utc(seconds), "seconds": seconds, "kind": kind,
            "size": None if kind == "directory" else os.lstat(src).st_size}
    if kind == "symlink":
        info["link_target"] = os.readlink(src)
    qdir = Path(products_dir) / QUARANTINE_DIR
    qdir.mkdir(parents=True, exist_ok=True)
    target = _reserve(qdir, src.name)
    reason_path = qdir / f"{target.name}.reason.json"
    try:
        _move(src, target)
    except BaseException:
        reason_path.unlink(missing_ok=True)
        raise
    fd, tmp = tempfile.mkstemp(prefix=f".{reason_path.name}.", suffix=".part", dir=qdir)
    with os.fdopen(fd, "w") as fh:
        json.dump({**info, "quarantined_as": str(target)}, fh, indent=2)
        fh.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, reason_path)
    return target
