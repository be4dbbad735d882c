"""Arrays of a FITS file checked against its headers, and against each other, before reading.

Everything here looks at what astropy parsed from the headers (``hdu.shape``, ``BITPIX``)
first and touches ``hdu.data`` only once the extension is an image of the expected rank,
shape and type and its size fits the memory budget.  The data themselves are then read
through :func:`load`, which turns astropy's complaints about mangled data cards into
:class:`~streamcal.errors.BadInputError`.

:func:`check_raw` is the whole check of a raw exposure (``_uncal`` or ``_ramp``): SCI 4-D,
PIXELDQ / GROUPDQ / ZEROFRAME / REFOUT of the shapes SCI implies, the tables really tables, the
float32 ramp and its DQ within the budget.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from ..errors import BadInputError
from .budget import check_budget
from .keywords import LIMITS, KeywordReader

__all__ = ["RawLayout", "image_hdu", "checked_image", "expect_shape", "load", "to_float32", "dq_uint32", "table",
           "check_raw", "raw_read_bytes", "check_table_header"]

#: What can go wrong when astropy turns the bytes of a checked HDU into an array or a table:
#: a data card (BLANK, TFORMn, THEAP ...) that parses but makes no sense.
_PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, EOFError)

_BITPIX_KIND = {8: "u", 16: "i", 32: "i", 64: "i", -32: "f", -64: "f"}


def _kind(hdu) -> str:
    """numpy kind (``"i"``, ``"u"``, ``"f"``) of an image from its header, before reading it:
    BZERO = 2**(bits-1) on a signed type is FITS's way of storing unsigned integers."""
    bitpix = hdu.header.get("BITPIX")
    kind = _BITPIX_KIND.get(bitpix, "?") if isinstance(bitpix, int) else "?"
    bzero = hdu.header.get("BZERO")
    if kind == "i" and isinstance(bzero, (int, float)) and bzero == 2 ** (abs(bitpix) - 1):
        return "u"
    return kind


def image_hdu(path: str | os.PathLike, hdul: fits.HDUList, name: str, *, ndim: tuple[int, ...],
              kinds: str = "iuf") -> fits.ImageHDU | fits.PrimaryHDU:
    """The image extension ``name`` of ``hdul``, checked by :func:`checked_image`.

    Raises
    ------
    BadInputError
        ``check="layout"`` when there is no such extension, else as :func:`checked_image`.
    """
    if name not in hdul:
        raise BadInputError(path, "layout", f"no {name} extension")
    return checked_image(path, hdul[name], ndim=ndim, kinds=kinds)


def checked_image(path: str | os.PathLike, hdu, *, ndim: tuple[int, ...], kinds: str = "iuf"):
    """``hdu`` checked from its header: an image (not a table), of one of the ranks ``ndim``,
    with every axis at least 1, of a numpy kind in ``kinds``.

    Raises
    ------
    BadInputError
        ``check="layout"`` (not an image) or ``"shape"`` (rank, empty axis, type).
    """
    name = hdu.name
    if not isinstance(hdu, (fits.ImageHDU, fits.PrimaryHDU)) or isinstance(hdu, fits.CompImageHDU):
        raise BadInputError(path, "layout", f"{name} is a {type(hdu).__name__}, not an image")
    shape = tuple(hdu.shape)
    if len(shape) not in ndim or min(shape, default=0) < 1:
        raise BadInputError(path, "shape", f"{name} must be {' or '.join(f'{n}-D' for n in ndim)} "
                                           f"with no empty axis, got shape {shape}")
    if _kind(hdu) not in kinds:
        raise BadInputError(path, "shape", f"{name} must be {_kind_names(kinds)}, "
                                           f"got BITPIX {hdu.header.get('BITPIX')!r}")
    return hdu


def _kind_names(kinds: str) -> str:
    return " or ".join({"i": "signed integers", "u": "unsigned integers", "f": "floats"}[k] for k in kinds)


def expect_shape(path: str | os.PathLike, hdu, shapes: tuple[tuple[int, ...], ...]) -> None:
    """Refuse an image whose (header) shape is none of ``shapes`` (``check="shape"``)."""
    if tuple(hdu.shape) not in shapes:
        raise BadInputError(path, "shape", f"{hdu.name} must be of shape {' or '.join(map(str, shapes))} "
                                           f"to match SCI, got {tuple(hdu.shape)}")


def load(path: str | os.PathLike, hdu) -> np.ndarray:
    """``hdu.data`` of a checked HDU, astropy's parse errors as ``BadInputError`` (``"data"``)."""
    try:
        data = hdu.data
    except _PARSE_ERRORS as exc:
        raise BadInputError(path, "data", f"{hdu.name}: unreadable data ({type(exc).__name__}: {exc})") from None
    if data is None:
        raise BadInputError(path, "data", f"{hdu.name} has no data")
    return data


def _scaling(path: str | os.PathLike, hdu) -> tuple[float, float]:
    keys = KeywordReader(hdu.header, str(path))
    return keys.real("BSCALE", 1.0), keys.real("BZERO", 0.0)


def to_float32(path: str | os.PathLike, hdu) -> np.ndarray:
    """An image (BZERO/BSCALE-scaled integers or floats) as float32, one plane at a time so
    the peak memory is the result plus one plane.  BSCALE and BZERO must be finite numbers."""
    bscale, bzero = _scaling(path, hdu)
    raw = load(path, hdu)
    out = np.empty(raw.shape, dtype=np.float32)
    planes_in = raw.reshape((-1,) + raw.shape[-2:]) if raw.ndim >= 2 else raw.reshape(1, 1, -1)
    planes_out = out.reshape(planes_in.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # a float64 beyond float32 becomes inf: data, not a crash
        for k in range(planes_in.shape[0]):
            plane = planes_in[k].astype(np.float32)
            if bscale != 1.0:
                plane *= np.float32(bscale)
            if bzero:
                plane += np.float32(bzero)
            planes_out[k] = plane
    return out


def dq_uint32(path: str | os.PathLike, hdu, dtype=np.uint32) -> np.ndarray:
    """A DQ image as ``dtype``: files store uint32 as int32 + BZERO 2**31 (FITS has no unsigned
    type); the bits are kept, whatever the stored integer type."""
    _, bzero = _scaling(path, hdu)
    raw = load(path, hdu)
    if bzero and float(bzero).is_integer():
        return (raw.astype(np.int64) + int(bzero)).astype(dtype)
    return raw.astype(dtype)


#: A binary-table column format (FITS 4.0, section 7.3.1): repeat count and type code, or a
#: variable-length array descriptor ``P``/``Q`` with its element type and optional maximum.
_TFORM = re.compile(r"\d{0,9}(?:[LXBIJKAEDCM]|[PQ][LXBIJKAEDCM](?:\(\d{0,9}\))?)")


def check_table_header(path: str | os.PathLike, hdu) -> None:
    """Refuse a binary table whose column cards astropy cannot make columns of: TFIELDS an
    integer in 0..999, every TFORMn a binary-table format, every TTYPEn short printable text.

    Raises
    ------
    BadInputError
        ``check="table"``.
    """
    keys = KeywordReader(hdu.header, f"{path}")
    try:
        nfields = keys.integer("TFIELDS")
        problem = None if 0 <= nfields <= 999 else f"TFIELDS = {nfields} is outside 0..999"
        for k in range(1, nfields + 1):
            if problem:
                break
            tform = keys.text(f"TFORM{k}")
            ttype = keys.header.get(f"TTYPE{k}", "")
            if not _TFORM.fullmatch(tform):
                problem = f"TFORM{k} = {tform!r} is not a binary-table format"
            elif not isinstance(ttype, str):
                problem = f"TTYPE{k} = {ttype!r} is not a column name"
            else:
                keys.text(f"TTYPE{k}", "")  # printable ASCII of bounded length
    except BadInputError as err:  # a keyword of the wrong type: same verdict, the table's check
        problem = err.reason
    if problem:
        raise BadInputError(path, "table", f"{hdu.name}: {problem}")


def table(path: str | os.PathLike, hdul: fits.HDUList, name: str) -> np.ndarray | None:
    """Table extension ``name`` as a plain numpy record array; None when absent.

    Raises
    ------
    BadInputError
        ``name`` is not a binary table, or its columns cannot be parsed (``check="table"``).
    """
    if name not in hdul:
        return None
    hdu = hdul[name]
    if not isinstance(hdu, fits.BinTableHDU):
        raise BadInputError(path, "table", f"{name} is a {type(hdu).__name__}, not a binary table")
    check_table_header(path, hdu)
    try:
        data = hdu.data
        return None if data is None else np.array(data)
    except _PARSE_ERRORS as exc:
        raise BadInputError(path, "table", f"{name}: unreadable table ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class RawLayout:
    """The checked layout of a raw exposure.

    Attributes
    ----------
    shape : (int, int, int, int)
        SCI ``(nints, ngroups, ny, nx)``.
    extensions : frozenset of str
        Which of PIXELDQ, GROUPDQ, ZEROFRAME, REFOUT are present (and checked).
    nbytes : int
        What reading it allocates, bytes (float32 ramp and REFOUT/ZEROFRAME, uint8 GROUPDQ,
        uint32 PIXELDQ).
    """

    shape: tuple[int, int, int, int]
    extensions: frozenset[str]
    nbytes: int


def raw_read_bytes(shape: tuple[int, ...], extensions: frozenset[str] | set[str]) -> int:
    """Bytes :func:`streamcal.fitsio.read_raw` allocates for a SCI of ``shape``: the float32
    ramp, its uint8 GROUPDQ (made when absent), uint32 PIXELDQ, float32 ZEROFRAME and REFOUT."""
    nints, ngroups, ny, nx = (int(n) for n in shape)
    ramp = nints * ngroups * ny * nx
    total = ramp * 4 + ramp + ny * nx * 4
    if "ZEROFRAME" in extensions:
        total += nints * ny * nx * 4
    if "REFOUT" in extensions:
        total += ramp  # a quarter of the columns, 4 bytes each
    return total


def check_raw(path: str | os.PathLike, hdul: fits.HDUList, budget: int | None = None) -> RawLayout:
    """Check a raw exposure's arrays against each other and the budget, before reading any.

    Raises
    ------
    BadInputError
        No 4-D SCI, an axis outside NINTS/NGROUPS limits, a DQ/ZEROFRAME/REFOUT of another
        shape or of floats where integers belong, a GROUP/INT_TIMES that is not a table, or
        more bytes than the budget.
    """
    sci = _raw_sci(path, hdul)
    nints, ngroups, ny, nx = shape = tuple(sci.shape)
    present = frozenset(n for n in ("PIXELDQ", "GROUPDQ", "ZEROFRAME", "REFOUT") if n in hdul)
    # name: (shape it must have, None for REFOUT's own rule; numpy kinds allowed)
    expected = {"PIXELDQ": ((ny, nx), "iu"), "GROUPDQ": (shape, "iu"),
                "ZEROFRAME": ((nints, ny, nx), "iuf"), "REFOUT": (None, "iuf")}
    for name in sorted(present):
        want, kinds = expected[name]
        hdu = image_hdu(path, hdul, name, ndim=(len(want) if want else 4,), kinds=kinds)
        if want is None:
            _check_refout(path, hdu, shape)
        else:
            expect_shape(path, hdu, (want,))
    for name in ("GROUP", "INT_TIMES"):
        if name in hdul and not isinstance(hdul[name], fits.BinTableHDU):
            raise BadInputError(path, "table", f"{name} is a {type(hdul[name]).__name__}, not a binary table")
    nbytes = raw_read_bytes(shape, present)
    check_budget(path, f"reading SCI {shape} as float32 with its DQ", nbytes, budget)
    return RawLayout(shape=shape, extensions=present, nbytes=nbytes)


def _raw_sci(path, hdul: fits.HDUList):
    if "SCI" not in hdul:
        raise BadInputError(path, "layout", "no SCI extension: not a JWST raw exposure")
    sci = hdul["SCI"]
    if isinstance(sci, (fits.ImageHDU, fits.PrimaryHDU)) and len(sci.shape) != 4:
        raise BadInputError(path, "shape", f"SCI must be 4-D (nints, ngroups, ny, nx) for a raw exposure, "
                                           f"got {len(sci.shape)}-D {tuple(sci.shape)}")
    sci = image_hdu(path, hdul, "SCI", ndim=(4,))
    nints, ngroups = sci.shape[:2]
    for key, value in (("NINTS", nints), ("NGROUPS", ngroups)):
        bounds = LIMITS[key]
        if not bounds.lo <= value <= bounds.hi:
            raise BadInputError(path, "shape", f"SCI has {value} {key.lower()[1:]} (at most {bounds.hi})")
    return sci


def _check_refout(path, hdu, shape: tuple[int, int, int, int]) -> None:
    """MIRI's reference output: the integrations and groups of SCI, at most SCI's frame size."""
    nints, ngroups, ny, nx = shape
    got = tuple(hdu.shape)
    if got[:2] != (nints, ngroups) or got[2] * got[3] > ny * nx:
        raise BadInputError(path, "shape", f"REFOUT has shape {got}; SCI is {shape}")
