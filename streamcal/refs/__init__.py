"""Reference data: where calibration reference files come from.

:class:`ReferenceSet` is the one thing other code uses.  It answers "which file of type X
applies to this exposure" (:meth:`~ReferenceSet.select`) and hands out the file's arrays cut to
the exposure's subarray, DQ already in standard bits (:meth:`~ReferenceSet.get`), from either

- the embedded **synthetic set** (``root=None``, the default): files generated on first use
  into a cache directory, consistent with :mod:`streamcal.sim`, so everything runs offline; or
- a **directory of JWST reference files** (``root=...``, e.g. a CRDS cache folder), indexed
  by their headers (``index.json``) and selected with CRDS-like rules
  (:mod:`streamcal.refs.select`).

Files are FITS, except the WCS types (DISTORTION, FILTEROFFSET), which are ASDF as in jwst
(:mod:`streamcal.refs.asdf_io`): their ``RefData.tree`` holds the transform or table, and
their ``meta`` supplies the selection keys.

``overrides`` (``--override REFTYPE=PATH``, jwst ``override_<reftype>``) name a file to use for
every exposure.  IRS2 (NIRSpec NRSIRS2 readouts) needs REFPIX reference files, which streamcal
does not support: the synthetic set has no REFPIX type.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Mapping

from ..detectors import DETECTORS
from ..errors import ReferenceFileError
from ..models import ExposureMeta
from . import generate
from .index import DirectoryIndex
from .io import read_reffile, read_selection_header
from .model import RefData
from .select import RefKeys, best, cutout_window, keys_from_header, window_contains
from .synthetic import VERSION as SYNTHETIC_VERSION

__all__ = ["ReferenceSet", "RefData", "SYNTHETIC_VERSION", "default_cache_dir", "default_pool_dir"]

#: Bytes of reference arrays kept in memory per ReferenceSet (LRU beyond that).
DEFAULT_CACHE_BYTES = 1_500_000_000


def default_cache_dir() -> Path:
    """``$STREAMCAL_REFS`` if set, else ``~/.cache/streamcal/refs/<synthetic version>``."""
    env = os.environ.get("STREAMCAL_REFS")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "streamcal" / "refs" / SYNTHETIC_VERSION


def default_pool_dir() -> Path | None:
    """Machine-wide pool of synthetic files that other cache directories hard-link from:
    ``$STREAMCAL_REFS_POOL`` (empty: no pool), else ``~/.cache/streamcal/refs/<version>``."""
    env = os.environ.get("STREAMCAL_REFS_POOL")
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    return Path.home() / ".cache" / "streamcal" / "refs" / SYNTHETIC_VERSION


class _LRU:
    """A bounded (by total bytes) least-recently-used cache of RefData."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, tuple[RefData, int]] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple) -> RefData | None:
        hit = self._items.get(key)
        if hit is None:
            return None
        self._items.move_to_end(key)
        return hit[0]

    def put(self, key: tuple, value: RefData) -> None:
        size = sum(a.nbytes for a in value.arrays.values()) + sum(t.nbytes for t in value.tables.values())
        self._items[key] = (value, size)
        self._bytes += size
        while self._bytes > self.max_bytes and len(self._items) > 1:
            _, (_, dropped) = self._items.popitem(last=False)
            self._bytes -= dropped

    def __len__(self) -> int:
        return len(self._items)


class ReferenceSet:
    """Reference files for stage-1 calibration.

    Parameters
    ----------
    root : str or Path, optional
        A directory of JWST reference files.  ``None``: the synthetic set.
    overrides : mapping, optional
        ``{reftype: path}``: use this file for every exposure (jwst ``override_<reftype>``).
    cache_dir : str or Path, optional
        Where the synthetic set is generated (default :func:`default_cache_dir`); ignored
        with ``root``.  Files are hard-linked from the machine-wide pool
        (:func:`default_pool_dir`) when possible, so each is generated once per machine.
    max_cache_bytes : int
        Memory bound of the in-process cache of loaded, cut reference arrays.
    refresh_seconds : float
        How often a user directory is re-checked for new or changed files.

    Raises
    ------
    ReferenceFileError
        An override file or the reference directory does not exist.

    Examples
    --------
    Usage (not run here: the first call writes a 16 MB full-frame gain file):

    >>> refs = ReferenceSet()                        # doctest: +SKIP
    >>> gain = refs.get("gain", ramp.meta)           # doctest: +SKIP
    >>> gain.arrays["SCI"].shape == ramp.data.shape[-2:]   # doctest: +SKIP
    True
    """

    def __init__(self, root: str | Path | None = None, overrides: Mapping[str, str | Path] | None = None,
                 cache_dir: str | Path | None = None, *, max_cache_bytes: int = DEFAULT_CACHE_BYTES,
                 refresh_seconds: float = 10.0):
        self.overrides = {str(k).strip().lower(): Path(v) for k, v in (overrides or {}).items()}
        for reftype, path in self.overrides.items():
            if not path.is_file():
                raise ReferenceFileError(f"override for {reftype}: no such file {path}")
        self.synthetic = root is None
        self.pool = None
        if self.synthetic:
            self.directory = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
            self.directory.mkdir(parents=True, exist_ok=True)
            self.pool = default_pool_dir()
            if self.pool is not None:
                try:
                    self.pool.mkdir(parents=True, exist_ok=True)
                except OSError:
                    self.pool = None
        else:  # cache_dir only concerns the synthetic set
            self.directory = Path(root).expanduser()
            if not self.directory.is_dir():
                raise ReferenceFileError(f"reference directory {self.directory} does not exist")
        self.max_cache_bytes = max_cache_bytes
        self.refresh_seconds = refresh_seconds
        self._setup()

    def _setup(self) -> None:
        self._lock = threading.RLock()
        self._cache = _LRU(self.max_cache_bytes)
        self._index = DirectoryIndex(self.directory)
        self._index.refresh()
        self._keys = self._index.keys()
        self._last_refresh = time.monotonic()

    # Ray and multiprocessing pickle the set: ship the configuration, rebuild locks and caches.
    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_cache", "_index", "_keys")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._setup()

    def __repr__(self) -> str:
        kind = "synthetic" if self.synthetic else "directory"
        return f"ReferenceSet({kind} {self.directory}, overrides={sorted(self.overrides)})"

    # ------------------------------------------------------------------------------ select
    def refresh(self) -> None:
        """Re-index the directory now (new, changed or removed files)."""
        with self._lock:
            self._index.refresh()
            self._keys = self._index.keys()
            self._last_refresh = time.monotonic()

    def indexed(self) -> list[RefKeys]:
        """Selection keys of every file in the directory's index."""
        with self._lock:
            return list(self._keys)

    def select(self, reftype: str, meta: ExposureMeta) -> Path | None:
        """The file of type ``reftype`` that applies to an exposure; ``None`` means N/A.

        Synthetic set: the file is generated here on first use.
        """
        reftype = reftype.strip().lower()
        if reftype in self.overrides:
            return self.overrides[reftype]
        if self.synthetic:
            return self._select_synthetic(reftype, meta)
        with self._lock:
            if time.monotonic() - self._last_refresh > self.refresh_seconds:
                self.refresh()
            chosen = best(self._keys, reftype, meta)
        return Path(chosen.path) if chosen else None

    def _select_synthetic(self, reftype: str, meta: ExposureMeta) -> Path | None:
        detector = DETECTORS.get(meta.detector)
        if detector is None or detector.instrument != meta.instrument:
            return None
        if not generate.supported(reftype, detector, meta):  # by EXP_TYPE too: NIRSpec's FLAT
            return None
        with self._lock:
            path = generate.ensure(reftype, detector, meta, self.directory, self.pool)
            if not any(k.path == str(path) for k in self._keys):
                self.refresh()  # record the new file in index.json
        return path

    # --------------------------------------------------------------------------------- get
    def get(self, reftype: str, meta: ExposureMeta) -> RefData | None:
        """The applicable reference file, read and cut to the exposure's subarray (jwst
        reffile_utils rules), DQ in standard bits; ``None`` means N/A.

        Returned arrays are shared between callers (cached) and read-only: steps copy what
        they modify.

        Raises
        ------
        ReferenceFileError
            The file cannot be read, or its window does not contain the exposure's.
        """
        path = self.select(reftype, meta)
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError as exc:
            raise ReferenceFileError(f"cannot read reference file {path}: {exc}") from None
        keys = self._keys_of(path)
        if not window_contains(keys, meta):
            raise ReferenceFileError(
                f"{reftype} reference {path} covers SUBSTRT=({keys.substrt1},{keys.substrt2}) "
                f"SUBSIZE=({keys.subsize1},{keys.subsize2}); the exposure needs "
                f"SUBSTRT=({meta.substrt1},{meta.substrt2}) SUBSIZE=({meta.subsize1},{meta.subsize2})")
        window = cutout_window(keys, meta)
        span = None if window is None else (window[0].start, window[0].stop, window[1].start, window[1].stop)
        key = (str(path), stat.st_size, stat.st_mtime_ns, reftype.lower(), span)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                return hit
        ref = read_reffile(path, reftype.lower(), window)
        for array in ref.arrays.values():
            array.flags.writeable = False
        with self._lock:
            self._cache.put(key, ref)
        return ref

    def _keys_of(self, path: Path) -> RefKeys:
        with self._lock:
            for keys in self._keys:
                if keys.path == str(path):
                    return keys
        try:
            return keys_from_header(str(path), read_selection_header(path))
        except Exception as exc:
            raise ReferenceFileError(f"cannot read reference file {path}: {type(exc).__name__}: {exc}") from None

