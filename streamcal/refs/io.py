"""Reading and writing reference files in the JWST reference-file FITS layout.

A reference file is a primary header (REFTYPE, INSTRUME, DETECTOR, SUBARRAY, SUBSTRT1/2,
SUBSIZE1/2, READPATT/P_READPA, EXP_TYPE/P_EXP_TY, FILTER, USEAFTER, PEDIGREE, DESCRIP,
AUTHOR ...), image extensions (SCI, ERR, DQ, COEFFS ...), table extensions (DQ_DEF, ...) and,
in files made by the jwst datamodels, an ``ASDF`` extension we do not need.  WCS reference
files (distortion, filteroffset) are ASDF files instead: :mod:`streamcal.refs.asdf_io`;
jwst's EXTRACT1D files are JSON (:func:`read_json_reffile`).

:func:`read_reffile` reads one into a :class:`~streamcal.refs.model.RefData`, cut to a window
and with DQ translated to the standard bits; every failure becomes
:class:`~streamcal.errors.ReferenceFileError` naming the file.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Mapping

import numpy as np
from astropy.io import fits

from ..dqflags import translate_dq
from ..errors import ReferenceFileError
from .asdf_io import is_asdf, read_asdf_reffile, read_meta_header
from .model import RefData

#: Extensions that carry serialized metadata, not data a step uses.
_METADATA_EXTENSIONS = frozenset({"ASDF", "METADATA"})


def dq_def_hdu(flags: Mapping[str, int], descriptions: Mapping[str, str] | None = None) -> fits.BinTableHDU:
    """A ``DQ_DEF`` table (BIT, VALUE, NAME, DESCRIPTION) for a file's own DQ bit values.

    Parameters
    ----------
    flags : mapping
        ``{mnemonic: value}`` as stored in this file's DQ array, e.g. ``{"DO_NOT_USE": 1, "DEAD": 2}``.
    descriptions : mapping, optional
        Text per mnemonic.
    """
    names = list(flags)
    values = np.array([flags[n] for n in names], dtype=np.int32)
    bits = np.array([int(v).bit_length() - 1 for v in values], dtype=np.int32)
    text = [(descriptions or {}).get(n, n.replace("_", " ").lower()) for n in names]
    cols = [fits.Column("BIT", "J", array=bits), fits.Column("VALUE", "J", array=values),
            fits.Column("NAME", "40A", array=names), fits.Column("DESCRIPTION", "80A", array=text)]
    return fits.BinTableHDU.from_columns(cols, name="DQ_DEF")


def parse_dq_def(table: np.ndarray | None) -> dict[str, int] | None:
    """``{NAME: VALUE}`` from a DQ_DEF table (None when the file has none)."""
    if table is None or len(table) == 0:
        return None
    return {str(n).strip().upper(): int(v) for n, v in zip(table["NAME"], table["VALUE"])}


def _cut(array: np.ndarray, window: tuple[slice, slice] | None, ref_shape: tuple[int, int]) -> np.ndarray:
    """Cut the last two axes to ``window`` when they have the file's frame shape (arrays of
    another shape, a 3x3 IPC kernel say, are kept whole), in native byte order: FITS is
    big-endian, numba kernels and fast numpy paths want native.  Exactly one copy, so nothing
    refers to the file's memory map once it is closed."""
    if window is not None and array.ndim >= 2 and array.shape[-2:] == ref_shape:
        array = array[..., window[0], window[1]]
    return np.array(array, dtype=array.dtype.newbyteorder("="), order="C")


def _table(hdu: fits.BinTableHDU) -> np.ndarray:
    """A table as a plain structured array: text columns as ``str`` (FITS stores bytes),
    numbers in native byte order."""
    data = np.asarray(hdu.data)
    fields = []
    for name in data.dtype.names:
        dt, shape = data.dtype[name].base, data.dtype[name].shape
        dt = np.dtype(f"U{dt.itemsize}") if dt.kind == "S" else dt.newbyteorder("=")
        fields.append((name, dt, shape) if shape else (name, dt))
    return data.astype(fields)


def _frame_shape(header: fits.Header, hdul: fits.HDUList) -> tuple[int, int]:
    """``(ny, nx)`` of the file's detector window: SUBSIZE2/1 when present, else the SCI shape."""
    if header.get("SUBSIZE1") and header.get("SUBSIZE2"):
        return int(header["SUBSIZE2"]), int(header["SUBSIZE1"])
    for hdu in hdul[1:]:
        if isinstance(hdu, fits.ImageHDU) and hdu.data is not None and hdu.data.ndim >= 2:
            return tuple(hdu.data.shape[-2:])  # type: ignore[return-value]
    return (0, 0)


def read_reffile(path: str | Path, reftype: str | None = None,
                 window: tuple[slice, slice] | None = None) -> RefData:
    """Read a reference file, cut to ``window`` (0-based slices in the file's own frame).

    Parameters
    ----------
    path : str or Path
    reftype : str, optional
        Lower-case reference type; defaults to the file's REFTYPE keyword.
    window : (slice, slice), optional
        Rows and columns to keep of every image whose last two axes have the file's frame
        shape (SUBSIZE2 x SUBSIZE1).

    Returns
    -------
    RefData
        Image arrays in native byte order (DQ as uint32 in standard bit values), tables as
        record arrays (DQ_DEF included).

    Raises
    ------
    ReferenceFileError
        The file is missing, not FITS, or cannot be read.
    """
    path = Path(path)
    if is_asdf(path):  # a WCS reference file: a tree, no arrays to cut
        return read_asdf_reffile(path, reftype)
    if is_json(path):  # an EXTRACT1D file: a tree too
        return read_json_reffile(path, reftype)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # old CRDS files carry non-standard cards
            try:
                with fits.open(path, memmap=True) as hdul:
                    return _to_refdata(path, hdul, reftype, window)
            except ValueError as exc:  # scaled (BZERO/BLANK) images cannot be memory-mapped
                if "memory-mapped" not in str(exc):
                    raise
                with fits.open(path, memmap=False) as hdul:
                    return _to_refdata(path, hdul, reftype, window)
    except ReferenceFileError:
        raise
    except Exception as exc:  # OSError, ValueError, KeyError, ... from astropy or a bad layout
        raise ReferenceFileError(f"cannot read reference file {path}: {type(exc).__name__}: {exc}") from None


def _to_refdata(path: Path, hdul: fits.HDUList, reftype: str | None,
                window: tuple[slice, slice] | None) -> RefData:
    header = hdul[0].header.copy()
    frame = _frame_shape(header, hdul)
    tables = {hdu.name: _table(hdu) for hdu in hdul[1:]
              if isinstance(hdu, fits.BinTableHDU) and hdu.name not in _METADATA_EXTENSIONS}
    arrays = {}
    for hdu in hdul[1:]:
        if isinstance(hdu, fits.ImageHDU) and hdu.data is not None and hdu.name not in _METADATA_EXTENSIONS:
            arrays[hdu.name] = _cut(hdu.data, window, frame)
    if "DQ" in arrays:
        arrays["DQ"] = translate_dq(arrays["DQ"].astype(np.uint32, copy=False), parse_dq_def(tables.get("DQ_DEF")))
    kind = (reftype or str(header.get("REFTYPE", "unknown"))).strip().lower()
    table_headers = {name: hdul[name].header.copy() for name in tables}
    return RefData(reftype=kind, path=str(path), header=header, arrays=arrays, tables=tables,
                   table_headers=table_headers)


def reffile_hdulist(header: Mapping[str, object], images: Mapping[str, np.ndarray],
                    tables: Mapping[str, fits.BinTableHDU] | None = None) -> fits.HDUList:
    """Assemble a reference file: primary header cards from ``header`` (values, or
    ``(value, comment)`` pairs), one image extension per ``images`` entry, then tables."""
    primary = fits.PrimaryHDU()
    for key, value in header.items():
        primary.header[key] = value
    hdus: list = [primary]
    hdus += [fits.ImageHDU(data, name=name) for name, data in images.items()]
    hdus += list((tables or {}).values())
    return fits.HDUList(hdus)


def read_selection_header(path: str | Path) -> fits.Header:
    """The selection keywords of a reference file: the primary header of a FITS file, the
    cards made from ``meta`` of an ASDF file."""
    if is_asdf(path):
        return read_meta_header(path)
    if is_json(path):
        return read_json_reffile(path).header
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fits.getheader(path, 0)


#: Top-level keys of a jwst JSON reference file (EXTRACT1D) -> selection keyword.
_JSON_KEYWORDS = {"reftype": "REFTYPE", "instrument": "INSTRUME", "detector": "DETECTOR", "exp_type": "EXP_TYPE",
                  "filter": "FILTER", "pupil": "PUPIL", "subarray": "SUBARRAY", "useafter": "USEAFTER",
                  "pedigree": "PEDIGREE", "description": "DESCRIP", "author": "AUTHOR", "telescope": "TELESCOP"}


def is_json(path: str | Path) -> bool:
    """Whether a reference file is JSON (by its name)."""
    return str(path).lower().endswith(".json")


def read_json_reffile(path: str | Path, reftype: str | None = None) -> RefData:
    """Read a JSON reference file (jwst's EXTRACT1D): ``tree`` is the parsed document,
    ``header`` its selection cards from the top-level keys (an ``exp_type`` with ``|`` is a
    pattern, P_EXP_TY).

    Raises
    ------
    ReferenceFileError
        The file is missing, not JSON, or not a JSON object.
    """
    try:
        tree = json.loads(Path(path).read_text())
        if not isinstance(tree, dict):
            raise ValueError("not a JSON object")
    except Exception as exc:  # OSError, UnicodeDecodeError, JSONDecodeError, ValueError
        raise ReferenceFileError(f"cannot read reference file {path}: {type(exc).__name__}: {exc}") from None
    header = fits.Header()
    for key, keyword in _JSON_KEYWORDS.items():
        value = tree.get(key)
        if value is None:
            continue
        value = str(value)
        if keyword == "EXP_TYPE" and "|" in value:
            keyword = "P_EXP_TY"
        header[keyword] = value.upper() if keyword == "REFTYPE" else value
    kind = (reftype or str(header.get("REFTYPE", "unknown"))).strip().lower()
    return RefData(reftype=kind, path=str(path), header=header, tree=tree)
