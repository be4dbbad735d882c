"""Reference files in ASDF, the format of jwst's WCS reference files (distortion,
filteroffset, ...): a tree with ``meta`` (reftype, instrument.name/detector/filter/pupil,
exposure.type or p_exptype, useafter, input_units, output_units, ...) and the data --
``model`` (an astropy.modeling transform) for a distortion, ``filters`` (a list of
{filter, pupil, column_offset, row_offset}) for a filter offset.

The selection keys are taken from ``meta`` under the FITS keyword names the rest of
:mod:`streamcal.refs` uses (``REFTYPE``, ``INSTRUME``, ``P_EXP_TY`` ...), so one set of rules
selects FITS and ASDF files alike.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping

import asdf
from astropy.io import fits

from ..errors import ReferenceFileError
from .model import RefData

#: File name endings of ASDF reference files.
SUFFIXES = (".asdf",)
#: meta path -> FITS-style selection keyword (the CRDS ``p_*`` pattern fields included).
_META_KEYWORDS = {
    ("reftype",): "REFTYPE", ("useafter",): "USEAFTER", ("pedigree",): "PEDIGREE",
    ("description",): "DESCRIP", ("author",): "AUTHOR", ("telescope",): "TELESCOP",
    ("instrument", "name"): "INSTRUME", ("instrument", "detector"): "DETECTOR",
    ("instrument", "p_detector"): "P_DETECT", ("instrument", "filter"): "FILTER",
    ("instrument", "p_filter"): "P_FILTER", ("instrument", "pupil"): "PUPIL",
    ("instrument", "p_pupil"): "P_PUPIL", ("instrument", "channel"): "CHANNEL",
    ("instrument", "band"): "BAND", ("instrument", "module"): "MODULE",
    ("exposure", "type"): "EXP_TYPE", ("exposure", "p_exptype"): "P_EXP_TY",
    ("exposure", "readpatt"): "READPATT", ("exposure", "p_readpatt"): "P_READPA",
    ("subarray", "name"): "SUBARRAY", ("subarray", "xstart"): "SUBSTRT1",
    ("subarray", "ystart"): "SUBSTRT2", ("subarray", "xsize"): "SUBSIZE1", ("subarray", "ysize"): "SUBSIZE2",
}


def is_asdf(path: str | Path) -> bool:
    """Whether a reference file is ASDF (by its name)."""
    return str(path).lower().endswith(SUFFIXES)


def _lookup(meta: Mapping, keys: tuple[str, ...]) -> Any:
    node: Any = meta
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def header_from_meta(meta: Mapping) -> fits.Header:
    """FITS-style selection cards from an ASDF reference file's ``meta``.

    Examples
    --------
    >>> h = header_from_meta({"reftype": "distortion", "instrument": {"name": "NIRCAM",
    ...                       "detector": "NRCA1"}, "exposure": {"p_exptype": "NRC_IMAGE|NRC_TACQ|"}})
    >>> h["REFTYPE"], h["INSTRUME"], h["P_EXP_TY"]
    ('DISTORTION', 'NIRCAM', 'NRC_IMAGE|NRC_TACQ|')
    """
    header = fits.Header()
    for keys, keyword in _META_KEYWORDS.items():
        value = _lookup(meta, keys)
        if value is None:
            continue
        if keyword == "REFTYPE":
            value = str(value).upper()
        header[keyword] = value if isinstance(value, (int, float, bool)) else str(value)
    return header


def read_meta_header(path: str | Path) -> fits.Header:
    """Selection cards of an ASDF reference file, reading only its tree (arrays and models
    are not built).

    Raises
    ------
    ReferenceFileError
        Not an ASDF file, or no ``meta`` in it.
    """
    tree = _open_tree(path, lazy=True, keys=("meta",))
    return header_from_meta(tree["meta"])


def _open_tree(path: str | Path, *, lazy: bool, keys: tuple[str, ...] | None = None) -> dict:
    """The tree (or the named top-level entries of it), fully materialised."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old files name retired schema versions
            with asdf.open(path, lazy_load=lazy, memmap=False, lazy_tree=lazy) as af:
                names = keys if keys is not None else [k for k in af.tree if not k.startswith("asdf_")]
                tree = {k: _materialise(af.tree[k]) for k in names if k in af.tree}
    except Exception as exc:
        raise ReferenceFileError(f"cannot read ASDF reference file {path}: {type(exc).__name__}: {exc}") from None
    if "meta" not in tree:
        raise ReferenceFileError(f"ASDF reference file {path} has no 'meta'")
    return tree


def _materialise(node: Any) -> Any:
    """Plain dicts/lists with arrays copied into memory, so nothing refers to the closed file."""
    import numpy as np

    if isinstance(node, Mapping):
        return {k: _materialise(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_materialise(v) for v in node]
    if isinstance(node, np.ndarray) or type(node).__name__ == "NDArrayType":
        return np.array(node)
    return node


def read_asdf_reffile(path: str | Path, reftype: str | None = None) -> RefData:
    """Read an ASDF reference file: ``header`` holds the selection cards from ``meta``,
    ``tree`` everything (``tree["model"]`` is the transform of a distortion file).

    Raises
    ------
    ReferenceFileError
        The file is missing, not ASDF, or has no ``meta``.
    """
    tree = _open_tree(path, lazy=False)
    header = header_from_meta(tree["meta"])
    kind = (reftype or str(header.get("REFTYPE", "unknown"))).strip().lower()
    return RefData(reftype=kind, path=str(path), header=header, tree=tree)


def write_asdf_reffile(tree: Mapping, path: str | Path) -> Path:
    """Write an ASDF reference file atomically (a hidden temporary name in the same
    directory, renamed into place), so readers never see a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        asdf.AsdfFile(dict(tree)).write_to(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
