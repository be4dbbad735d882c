"""An index of a directory of reference files, kept in ``index.json`` (CRDS-cache-like).

Building it means reading the primary header of every ``*.fits`` file (the ``meta`` of every
``*.asdf`` file, the format of jwst's WCS reference files); that is done once and
then only for files that are new or changed (by size and modification time), so a service that
runs for days re-checks its reference directory cheaply.  The JSON file is rewritten
atomically; two processes refreshing at once each write a complete, valid index.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path

from .io import read_selection_header
from .select import RefKeys, keys_from_header

log = logging.getLogger(__name__)

INDEX_NAME = "index.json"
#: Reference files indexed: FITS, ASDF (distortion, filteroffset, ...) and JSON (extract1d).
_PATTERNS = ("*.fits", "*.asdf", "*.json")
_FORMAT_VERSION = 1


def _signature(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _read_keys(path: Path) -> RefKeys | None:
    """Selection keys of one file, or None (logged) when it is not a readable reference file."""
    try:
        header = read_selection_header(path)
    except Exception as exc:  # a corrupt file must not take the whole index down
        log.warning("reference index: skipping unreadable %s (%s)", path, exc)
        return None
    keys = keys_from_header(str(path), header)
    if not keys.reftype or not keys.instrument:
        log.warning("reference index: skipping %s (no REFTYPE/INSTRUME)", path)
        return None
    return keys


def _write_json(data: dict, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DirectoryIndex:
    """Selection keys of every reference file in one directory (not recursive).

    Parameters
    ----------
    root : Path
        Directory of reference files.
    index_path : Path, optional
        Where ``index.json`` lives; default ``root / "index.json"``, falling back to no
        persistence when ``root`` is read-only.
    """

    def __init__(self, root: str | Path, index_path: str | Path | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"reference directory {self.root} does not exist")
        self.index_path = Path(index_path) if index_path else self.root / INDEX_NAME
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = self._load()

    def _load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.index_path.read_text())
        except (OSError, ValueError):
            return {}
        if data.get("format") != _FORMAT_VERSION:
            return {}
        return data.get("files", {})

    def refresh(self) -> bool:
        """Re-read headers of new or changed files, drop removed ones; persist when anything
        changed.  Returns whether the index changed."""
        with self._lock:
            current = {p.name: p for pattern in _PATTERNS for p in self.root.glob(pattern)
                       if not p.name.startswith(".") and p.resolve() != self.index_path.resolve()}
            changed = False
            for name in list(self._entries):
                if name not in current:
                    del self._entries[name]
                    changed = True
            for name, path in current.items():
                size, mtime = _signature(path)
                entry = self._entries.get(name)
                if entry and entry["size"] == size and entry["mtime_ns"] == mtime:
                    continue
                keys = _read_keys(path)
                self._entries[name] = {"size": size, "mtime_ns": mtime,
                                       "keys": None if keys is None else {**keys.to_dict(), "path": name}}
                changed = True
            if changed:
                self._persist()
            return changed

    def _persist(self) -> None:
        try:
            _write_json({"format": _FORMAT_VERSION, "files": self._entries}, self.index_path)
        except OSError as exc:  # read-only reference directory: keep the index in memory
            log.info("reference index not saved to %s: %s", self.index_path, exc)

    def keys(self) -> list[RefKeys]:
        """Keys of every indexed reference file, with absolute paths."""
        with self._lock:
            return [RefKeys(**{**e["keys"], "path": str(self.root / e["keys"]["path"])})
                    for e in self._entries.values() if e["keys"] is not None]
