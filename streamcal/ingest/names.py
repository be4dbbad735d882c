"""Which names in the landing directory are never candidates (temporaries, hidden files)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["IGNORED_SUFFIXES", "FITS_SUFFIXES", "is_ignored", "looks_like_fits_name"]

#: Name endings of files still being written by common tools (browsers, scp clients, editors).
IGNORED_SUFFIXES = (".part", ".partial", ".filepart", ".crdownload", ".tmp", ".temp", ".swp", ".swx", "~")

#: Name endings of FITS files; a *directory* with such a name is a candidate (reported as bad).
FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")


def _ignored_name(name: str) -> bool:
    lower = name.lower()
    return name.startswith(".") or lower.endswith(IGNORED_SUFFIXES)


def is_ignored(path: str | os.PathLike, landing: str | os.PathLike | None = None) -> bool:
    """Whether a path is a temporary or hidden name that ingest never looks at.

    Hidden names (``.name``, rsync's ``.name.XXXXXX`` temporaries) and names ending in
    :data:`IGNORED_SUFFIXES` (``*.part``, ``*.tmp``, ``*.swp``, ``name~``, ...) are ignored.

    Parameters
    ----------
    path : path-like
        The candidate.
    landing : path-like, optional
        The landing directory. When given, every component of ``path`` below it is checked,
        so files inside a hidden sub-directory (``landing/.staging/x.fits``) are ignored too;
        components above the landing directory never count.

    Returns
    -------
    bool
    """
    path = Path(path)
    if landing is None:
        return _ignored_name(path.name)
    try:
        parts = path.relative_to(landing).parts
    except ValueError:
        parts = (path.name,)
    return any(_ignored_name(part) for part in parts)


def looks_like_fits_name(path: str | os.PathLike) -> bool:
    """Whether the name ends like a FITS file (``.fits``, ``.fit``, ``.fts``, ``.fits.gz``)."""
    return Path(path).name.lower().endswith(FITS_SUFFIXES)
