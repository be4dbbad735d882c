"""Where each HDU of a FITS file starts and ends, from its headers alone (data never read).

The scanner reads 2880-byte header blocks and the mandatory keywords (``BITPIX``, ``NAXISn``,
``PCOUNT``, ``GCOUNT``, ``GROUPS``), so that a header declaring a 10-petabyte array costs a few
kilobytes of reading and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["BLOCK", "CARD", "HduSummary", "Layout", "LayoutError", "scan_layout", "data_size"]

BLOCK = 2880
CARD = 80
_BITPIX = (8, 16, 32, 64, -32, -64)
_SIMPLE = b"SIMPLE  = "
_XTENSION = b"XTENSION= "
_PRINTABLE = bytes(range(32, 127))


class LayoutError(ValueError):
    """The bytes present are not (the beginning of) a valid FITS file.

    Attributes
    ----------
    check : str
        ``"fits"`` (structure) or ``"size"`` (declared data too large).
    reason : str
        One line.
    """

    def __init__(self, check: str, reason: str):
        self.check = check
        self.reason = reason
        super().__init__(f"{reason} [{check}]")


@dataclass(frozen=True)
class HduSummary:
    """What the header of one HDU declares, read from its raw cards (no FITS library involved).

    Attributes
    ----------
    index : int
        HDU number (0 is the primary).
    xtension : str
        ``XTENSION`` value (``"IMAGE"``, ``"BINTABLE"``...), ``"PRIMARY"`` for HDU 0.
    extname : str
        ``EXTNAME`` value, upper case ("" when absent).
    bitpix : int
    axes : tuple of int
        ``NAXIS1 .. NAXISn`` (FITS order: fastest axis first).
    compression : str
        ``ZCMPTYPE`` of a tile-compressed image (``"RICE_1"``...), ``"unknown"`` when ``ZIMAGE = T``
        without it, "" for an HDU that is not tile-compressed.
    data_start : int
        Byte offset of the data.
    data_bytes : int
        Declared data size in bytes (unpadded).
    """

    index: int
    xtension: str
    extname: str
    bitpix: int
    axes: tuple[int, ...]
    compression: str
    data_start: int
    data_bytes: int


@dataclass(frozen=True)
class Layout:
    """The result of :func:`scan_layout`.

    Attributes
    ----------
    hdu_ends : tuple of int
        Byte offset just past each fully declared HDU (header + data padded to 2880).
    declared : int
        Bytes the headers read so far account for (at least the file size when ``complete``).
    complete : bool
        The file ends exactly where the last HDU ends.
    waiting_for : str
        Empty when complete; otherwise one line saying which bytes are still missing.
    primary_has_data : bool
        The primary HDU declares a data array.
    hdus : tuple of HduSummary
        What each fully declared HDU's header says.
    """

    hdu_ends: tuple[int, ...]
    declared: int
    complete: bool
    waiting_for: str
    primary_has_data: bool
    hdus: tuple[HduSummary, ...] = ()


def _pad(n: int) -> int:
    return -(-n // BLOCK) * BLOCK


def _value(card: bytes) -> str:
    return card[10:].decode("ascii", "replace").split("/", 1)[0].strip()


def _text(cards: dict[str, bytes], key: str) -> str:
    card = cards.get(key)
    return "" if card is None else _value(card).strip("'").strip().upper()


def summarize(cards: dict[str, bytes], hdu: int, data_start: int, data_bytes: int) -> HduSummary:
    """An :class:`HduSummary` from one header's cards (as :func:`data_size` has validated them)."""
    naxis = _int(cards, "NAXIS", hdu)
    zimage = _text(cards, "ZIMAGE") == "T"
    compression = _text(cards, "ZCMPTYPE") or ("unknown" if zimage else "")
    return HduSummary(index=hdu, xtension=_text(cards, "XTENSION") if hdu else "PRIMARY",
                      extname=_text(cards, "EXTNAME"), bitpix=_int(cards, "BITPIX", hdu),
                      axes=tuple(_int(cards, f"NAXIS{k}", hdu) for k in range(1, naxis + 1)),
                      compression=compression, data_start=data_start, data_bytes=data_bytes)


def _int(cards: dict[str, bytes], key: str, hdu: int, default: int | None = None) -> int:
    card = cards.get(key)
    if card is None:
        if default is None:
            raise LayoutError("fits", f"HDU {hdu} header has no {key} keyword")
        return default
    try:
        return int(_value(card))
    except ValueError:
        raise LayoutError("fits", f"HDU {hdu} header: {key} is not an integer ({_value(card)!r})") from None


def data_size(cards: dict[str, bytes], hdu: int) -> int:
    """Declared data size in bytes (unpadded) of one HDU, from its header cards by keyword.

    Follows the FITS standard 4.0 (section 4.4.1): ``|BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1*...*NAXISn)``,
    with ``NAXIS1`` left out for random groups (``GROUPS = T``, ``NAXIS1 = 0``) and no data when
    ``NAXIS = 0``.
    """
    bitpix = _int(cards, "BITPIX", hdu)
    if bitpix not in _BITPIX:
        raise LayoutError("fits", f"HDU {hdu} header: BITPIX = {bitpix} is not a FITS value")
    naxis = _int(cards, "NAXIS", hdu)
    if not 0 <= naxis <= 999:
        raise LayoutError("fits", f"HDU {hdu} header: NAXIS = {naxis} is out of range")
    if naxis == 0:
        return 0
    axes = [_int(cards, f"NAXIS{k}", hdu) for k in range(1, naxis + 1)]
    if min(axes) < 0:
        raise LayoutError("fits", f"HDU {hdu} header: negative NAXISn {axes}")
    groups = "GROUPS" in cards and _value(cards["GROUPS"]) == "T" and axes[0] == 0
    if groups:
        axes = axes[1:]
    pcount = _int(cards, "PCOUNT", hdu, 0)
    gcount = _int(cards, "GCOUNT", hdu, 1)
    if pcount < 0 or gcount < 0:
        raise LayoutError("fits", f"HDU {hdu} header: negative PCOUNT/GCOUNT")
    product = 1
    for n in axes:
        product *= n
    if hdu == 0 and not groups:
        return abs(bitpix) // 8 * product
    return abs(bitpix) // 8 * gcount * (pcount + product)


class _Short(Exception):
    """Not enough bytes yet to finish this header."""


def _check_first_card(head: bytes, hdu: int, offset: int) -> None:
    want = _SIMPLE if hdu == 0 else _XTENSION
    n = min(len(head), len(want))
    if head[:n] != want[:n]:
        if hdu and head.strip(b"\0") == b"":
            raise _Short(f"NUL bytes after HDU {hdu - 1} (offset {offset})")
        what = "first card is not SIMPLE = T" if hdu == 0 else f"bytes after HDU {hdu - 1} (offset {offset}) are not an XTENSION header"
        raise LayoutError("fits", f"not FITS: {what}")
    if hdu == 0 and len(head) >= CARD and _value(head[:CARD]) != "T":
        raise LayoutError("fits", "not FITS: first card is not SIMPLE = T")


def _read_header(f: BinaryIO, offset: int, hdu: int, max_blocks: int) -> tuple[dict[str, bytes], int]:
    """Cards by keyword and the header length in bytes; raises _Short when the file ends first."""
    f.seek(offset)
    cards: dict[str, bytes] = {}
    for nblock in range(max_blocks):
        block = f.read(BLOCK)
        if nblock == 0:
            _check_first_card(block[:CARD], hdu, offset)
        if len(block) < BLOCK:
            raise _Short(f"header of HDU {hdu} is incomplete (no END card in {nblock * BLOCK + len(block)} bytes)")
        if block.translate(None, _PRINTABLE):  # anything left is not printable ASCII
            raise LayoutError("fits", f"HDU {hdu} header contains non-ASCII bytes (block {nblock})")
        for i in range(0, BLOCK, CARD):
            card = block[i:i + CARD]
            key = card[:8].rstrip().decode("ascii")
            if key == "END":
                return cards, (nblock + 1) * BLOCK
            if card[8:10] == b"= " and key not in cards:
                cards[key] = card
    raise LayoutError("fits", f"HDU {hdu} header has no END card in {max_blocks} blocks")


def scan_layout(f: BinaryIO, size: int, *, max_bytes: int, max_header_blocks: int = 2000,
                max_hdus: int = 100_000) -> Layout:
    """Walk the HDUs of an open FITS file of ``size`` bytes without reading any data.

    Parameters
    ----------
    f : binary file
        Open for reading, seekable.
    size : int
        File size in bytes now (a writer may still be appending).
    max_bytes : int
        Headers declaring more bytes than this in total are rejected (``check="size"``) at once.
    max_header_blocks : int
        Longest header accepted, in 2880-byte blocks.
    max_hdus : int
        Most HDUs accepted (each costs a header parse wherever the file is opened).

    Returns
    -------
    Layout

    Raises
    ------
    LayoutError
        The bytes present cannot be the start of a valid FITS file, or declare too much data.
    """
    offset, hdu, ends, primary_data, hdus = 0, 0, [], False, []
    while True:
        if hdu > 0 and offset == size:
            return Layout(tuple(ends), offset, True, "", primary_data, tuple(hdus))
        if hdu >= max_hdus:
            raise LayoutError("fits", f"more than {max_hdus} HDUs")
        try:
            cards, header_len = _read_header(f, offset, hdu, max_header_blocks)
        except _Short as short:
            return Layout(tuple(ends), max(offset, size), False, str(short), primary_data, tuple(hdus))
        nbytes = data_size(cards, hdu)
        primary_data = primary_data or (hdu == 0 and nbytes > 0)
        end = offset + header_len + _pad(nbytes)
        if end > max_bytes:
            raise LayoutError("size", f"headers declare {end / 2**30:.3g} GiB through HDU {hdu}, "
                                      f"more than the limit of {max_bytes / 2**30:.3g} GiB")
        if end > size:
            return Layout(tuple(ends), end, False,
                          f"HDU {hdu} data end at byte {end}, file has {size}", primary_data, tuple(hdus))
        ends.append(end)
        hdus.append(summarize(cards, hdu, offset + header_len, nbytes))
        offset, hdu = end, hdu + 1
