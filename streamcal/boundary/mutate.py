"""Hostile FITS files, made by mutating valid ones: the input side of the fuzz harness.

:func:`make_case` turns a seed exposure (the bytes of a valid ``_uncal.fits``) and a case number
into one hostile file, deterministically: the same ``(seed, case)`` always gives the same bytes
and name, so any case a fuzz run reports can be made again by number.  The mutation kinds are
the ways real transfers and hostile senders break files:

============== =====================================================================================
kind           what it does
============== =====================================================================================
byte_flip      1-16 random bytes replaced, mostly inside the headers
truncate       the file cut at a random byte
card_value     a keyword the code reads set to an absurd or wrongly typed value (1E999, 2**31, 'T', text, non-ASCII, ...)
card_remove    a keyword the code reads blanked out
structure      BITPIX / NAXIS / NAXISn / PCOUNT of an extension set to an absurd value (NAXIS1 = 2**62 ...)
window         SUBSTRT/SUBSIZE disagreeing with the data (the data no longer fit the references' window)
shape          SCI (or PIXELDQ, GROUPDQ, ZEROFRAME) of another rank or size
dtype          SCI or a DQ array of another type (float64, int8, int64, float DQ ...)
extension      SCI missing, duplicated, empty or a table; junk extensions added; tables of odd layout
compressed     SCI tile-compressed (RICE_1, GZIP_1, GZIP_2, HCOMPRESS_1, PLIO_1), sometimes with ZNAXISn = 2**62 or damaged tiles
gzip           the whole file gzip-compressed, still named ``.fits``
no_end         the END card removed and megabytes of cards appended (a header that never ends)
name           a valid file under an odd name: non-ASCII, over-long, control characters, spaces
combined       a card mutation followed by byte flips
============== =====================================================================================
"""

from __future__ import annotations

import gzip
import io
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
from astropy.io import fits

__all__ = ["Seed", "Case", "KINDS", "make_case", "seed_from_bytes"]

BLOCK, CARD = 2880, 80


@dataclass(frozen=True)
class Seed:
    """A valid exposure to mutate: its bytes, name and where each header lies.

    Attributes
    ----------
    name : str
        File name (``..._uncal.fits``).
    data : bytes
        The file.
    headers : tuple of (int, int)
        ``(header start, data start)`` byte offsets of every HDU.
    """

    name: str
    data: bytes
    headers: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Case:
    """One hostile file: what to write, under which name, and how it was made.

    Attributes
    ----------
    number : int
        Case number (with the run's seed, reproduces the case).
    kind : str
        Mutation kind (:data:`KINDS`).
    detail : str
        What exactly was done, for the report (``"NGROUPS = 1E999"``).
    name : str
        File name to write it under.
    data : bytes
        File content.
    """

    number: int
    kind: str
    detail: str
    name: str
    data: bytes


def seed_from_bytes(name: str, data: bytes) -> Seed:
    """Index a valid FITS file's headers for card-level mutations."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with fits.open(io.BytesIO(data)) as hdul:
            hdul.readall()
            spans = tuple((hdul.fileinfo(i)["hdrLoc"], hdul.fileinfo(i)["datLoc"]) for i in range(len(hdul)))
    return Seed(name=name, data=data, headers=spans)


# ------------------------------------------------------------------------------ card edits

#: Keywords of the primary header that the calibration code reads.
PRIMARY_KEYS = ("INSTRUME", "DETECTOR", "EXP_TYPE", "NINTS", "NGROUPS", "NFRAMES", "GROUPGAP", "TFRAME",
                "TGROUP", "READPATT", "SUBARRAY", "SUBSTRT1", "SUBSTRT2", "SUBSIZE1", "SUBSIZE2", "FASTAXIS",
                "SLOWAXIS", "NOUTPUTS", "FRMDIVSR", "FILTER", "PUPIL", "TSOVISIT", "GAINFACT", "ZEROFRAM",
                "DATE-BEG", "DATE-OBS", "TIME-OBS", "FILENAME", "SIMPLE", "BITPIX", "NAXIS", "EXTEND")
#: Structural keywords of an extension header.
EXTENSION_KEYS = ("BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3", "NAXIS4", "PCOUNT", "GCOUNT", "BZERO",
                  "BSCALE", "BLANK", "EXTNAME", "XTENSION", "TFIELDS", "TFORM1", "TTYPE1")
#: Raw value fields (what follows ``KEY     = ``): absurd, wrongly typed, non-ASCII.
VALUES = (b"1E999", b"-1E999", b"0", b"-1", b"2147483648", b"4611686018427387904", b"9223372036854775808",
          b"-9223372036854775809", b"1" + b"0" * 60, b"3.5", b"1.0E300", b"T", b"F", b"''", b"'text'",
          b"'1'", b"'\xe9\xe8\xff'", b"'\x00\x01\x1b[2J'", b"'" + b"X" * 68 + b"'", b"'NRC_IMAGE'", b"'MIRI'",
          b"(1.0, 2.0)", b"NAN", b"", b"65536", b"2048", b"4096", b"-2147483649", b"7", b"999999999999")


def _find_card(data: bytes | bytearray, span: tuple[int, int], key: str) -> int | None:
    want = key.encode("ascii").ljust(8)
    for pos in range(span[0], span[1], CARD):
        if data[pos:pos + 8] == want:
            return pos
    return None


def set_card(data: bytearray, span: tuple[int, int], key: str, value: bytes) -> bool:
    """Write ``KEY = value`` into the header at ``span``: over the existing card, else in
    place of END (moved one card on) when the block has room.  Returns whether it was written."""
    card = (key.encode("ascii").ljust(8) + b"= " + value)[:CARD].ljust(CARD)
    pos = _find_card(data, span, key)
    if pos is None:
        end = _find_card(data, span, "END")
        if end is None or end + CARD >= span[1]:
            return False
        data[end + CARD:end + 2 * CARD] = data[end:end + CARD]
        pos = end
    data[pos:pos + CARD] = card
    return True


def blank_card(data: bytearray, span: tuple[int, int], key: str) -> bool:
    """Turn ``KEY``'s card into a blank card (the keyword disappears)."""
    pos = _find_card(data, span, key)
    if pos is None:
        return False
    data[pos:pos + CARD] = b" " * CARD
    return True


# ------------------------------------------------------------------------------- mutations

Mutation = Callable[[Seed, np.random.Generator], tuple[str, bytes, str]]


def _flip(data: bytearray, rng: np.random.Generator, span_end: int) -> str:
    count = int(rng.integers(1, 17))
    where = []
    for _ in range(count):
        limit = span_end if rng.random() < 0.7 else len(data)
        pos = int(rng.integers(0, max(1, limit)))
        data[pos] = int(rng.integers(0, 256))
        where.append(pos)
    return f"{count} bytes at {sorted(where)[:4]}..."


def byte_flip(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    data = bytearray(seed.data)
    detail = _flip(data, rng, seed.headers[-1][1])
    return detail, bytes(data), seed.name


def truncate(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    cut = int(rng.integers(1, len(seed.data)))
    if rng.random() < 0.3:  # a block boundary: astropy takes these for a complete file
        cut = max(BLOCK, cut // BLOCK * BLOCK)
    return f"cut at {cut} of {len(seed.data)}", seed.data[:cut], seed.name


def _card_edit(seed: Seed, rng: np.random.Generator) -> tuple[str, bytearray]:
    data = bytearray(seed.data)
    hdu = 0 if rng.random() < 0.6 else int(rng.integers(1, len(seed.headers)))
    keys = PRIMARY_KEYS if hdu == 0 else EXTENSION_KEYS
    key = keys[int(rng.integers(len(keys)))]
    value = VALUES[int(rng.integers(len(VALUES)))]
    if rng.random() < 0.15:
        value = str(int(rng.integers(-5, 70))).encode()
    set_card(data, seed.headers[hdu], key, value)
    return f"HDU {hdu} {key} = {value[:30]!r}", data


def card_value(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    detail, data = _card_edit(seed, rng)
    return detail, bytes(data), seed.name


def card_remove(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    data = bytearray(seed.data)
    hdu = 0 if rng.random() < 0.7 else int(rng.integers(1, len(seed.headers)))
    wanted = PRIMARY_KEYS if hdu == 0 else EXTENSION_KEYS
    keys = [k for k in wanted if _find_card(data, seed.headers[hdu], k) is not None]
    key = keys[int(rng.integers(len(keys)))]
    blank_card(data, seed.headers[hdu], key)
    return f"HDU {hdu} {key} removed", bytes(data), seed.name


_STRUCTURE = (("NAXIS1", b"4611686018427387904"), ("NAXIS2", b"2147483648"), ("NAXIS3", b"-1"),
              ("NAXIS4", b"0"), ("NAXIS", b"999"), ("NAXIS", b"5"), ("NAXIS", b"2"), ("BITPIX", b"-16"),
              ("BITPIX", b"64"), ("BITPIX", b"-64"), ("BITPIX", b"8"), ("PCOUNT", b"4611686018427387904"),
              ("GCOUNT", b"0"), ("NAXIS1", b"1E999"), ("NAXIS2", b"'64'"), ("BZERO", b"1E999"),
              ("BSCALE", b"0"), ("BLANK", b"3.5"), ("NAXIS4", b"100000"), ("XTENSION", b"'BINTABLE'"))


def structure(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    data = bytearray(seed.data)
    hdu = int(rng.integers(1, len(seed.headers)))
    key, value = _STRUCTURE[int(rng.integers(len(_STRUCTURE)))]
    set_card(data, seed.headers[hdu], key, value)
    return f"HDU {hdu} {key} = {value.decode()}", bytes(data), seed.name


def _hdul(seed: Seed) -> fits.HDUList:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdul = fits.open(io.BytesIO(seed.data))
        hdul.readall()
    return fits.HDUList([h.copy() for h in hdul])


def _write(hdul: fits.HDUList) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hdul.writeto(buf, output_verify="silentfix")
    return buf.getvalue()


def window(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    hdul = _hdul(seed)
    h = hdul[0].header
    choices = (("SUBSIZE1", int(h.get("SUBSIZE1", 64)) * 2), ("SUBSIZE2", max(1, int(h.get("SUBSIZE2", 64)) // 2)),
               ("SUBSTRT1", 2040), ("SUBSTRT2", 4000), ("SUBSTRT1", 0), ("SUBSIZE1", 2048),
               ("SUBSTRT2", 1990), ("FASTAXIS", 0), ("SLOWAXIS", 1), ("NOUTPUTS", 0))
    key, value = choices[int(rng.integers(len(choices)))]
    h[key] = value
    return f"{key} = {value}", _write(hdul), seed.name


def shape(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    hdul = _hdul(seed)
    names = [n for n in ("SCI", "PIXELDQ", "GROUPDQ", "ZEROFRAME", "REFOUT") if n in hdul]
    name = names[int(rng.integers(len(names)))] if rng.random() < 0.4 else "SCI"
    data = hdul[name].data
    n4 = data.reshape(-1)
    options = [data[0], data[..., :-1], data[..., :-3, :], n4, data[None], n4[:0].reshape((0,) + data.shape[1:]),
               np.swapaxes(data, -1, -2)[..., :, :-1], data.reshape(data.shape[:-2] + (-1, 2)),
               np.zeros((1,) * data.ndim, data.dtype)]
    pick = int(rng.integers(len(options)))
    new = np.ascontiguousarray(options[pick])
    hdul[name] = fits.ImageHDU(new, header=hdul[name].header, name=name)
    return f"{name} shape {data.shape} -> {new.shape}", _write(hdul), seed.name


def dtype(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    hdul = _hdul(seed)
    name = ("SCI", "PIXELDQ", "GROUPDQ")[int(rng.integers(3))]
    if name not in hdul:
        name = "SCI"
    kinds = (np.float64, np.int8, np.uint8, np.int32, np.int64, np.float32, np.uint64)
    kind = kinds[int(rng.integers(len(kinds)))]
    data = hdul[name].data
    if rng.random() < 0.3 and kind in (np.float32, np.float64):
        new = np.full(data.shape, np.nan if rng.random() < 0.5 else np.inf, kind)
    else:
        new = data.astype(kind)
    hdul[name] = fits.ImageHDU(new, name=name)
    return f"{name} as {np.dtype(kind).name}", _write(hdul), seed.name


def _junk_table(rng: np.random.Generator, name: str) -> fits.BinTableHDU:
    rows = int(rng.integers(0, 50))
    cols = [fits.Column("A", "J", array=np.arange(rows)), fits.Column("B", "20A", array=["x"] * rows)]
    if rng.random() < 0.5:
        cols.append(fits.Column("C", "PJ()", array=[np.arange(int(rng.integers(0, 5))) for _ in range(rows)]))
    return fits.BinTableHDU.from_columns(cols, name=name)


def extension(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    hdul = _hdul(seed)
    sci = hdul["SCI"]
    actions = {
        "drop SCI": lambda: hdul.pop(hdul.index_of("SCI")),
        "duplicate SCI": lambda: hdul.append(fits.ImageHDU(sci.data, name="SCI")),
        "empty SCI": lambda: hdul.__setitem__("SCI", fits.ImageHDU(None, name="SCI")),
        "SCI as table": lambda: hdul.__setitem__("SCI", _junk_table(rng, "SCI")),
        "SCI in primary": lambda: hdul.__setitem__(0, fits.PrimaryHDU(sci.data, header=hdul[0].header)),
        "junk image": lambda: hdul.append(fits.ImageHDU(np.zeros((3, 3, 3), np.int16), name="JUNK")),
        "GROUP as junk table": lambda: hdul.append(_junk_table(rng, "GROUP")),
        "INT_TIMES as image": lambda: hdul.append(fits.ImageHDU(np.zeros(4), name="INT_TIMES")),
        "PIXELDQ as table": lambda: hdul.append(_junk_table(rng, "PIXELDQ")),
        "ASDF junk": lambda: hdul.append(fits.BinTableHDU.from_columns(
            [fits.Column("ASDF_METADATA", "8B", array=np.frombuffer(b"#ASDF !!", np.uint8)[None])], name="ASDF")),
        "only primary": lambda: [hdul.pop() for _ in range(len(hdul) - 1)],
        "GROUPDQ 3-D": lambda: hdul.append(fits.ImageHDU(np.zeros(sci.data.shape[1:], np.uint8), name="GROUPDQ")),
    }
    names = list(actions)
    pick = names[int(rng.integers(len(names)))]
    actions[pick]()
    return pick, _write(hdul), seed.name


_COMPRESSIONS = ("RICE_1", "GZIP_1", "GZIP_2", "HCOMPRESS_1", "PLIO_1")


def compressed(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    hdul = _hdul(seed)
    sci = hdul["SCI"]
    how = _COMPRESSIONS[int(rng.integers(len(_COMPRESSIONS)))]
    data = sci.data.astype(np.int32) if how == "PLIO_1" else sci.data
    tile = (1,) * (data.ndim - 2) + data.shape[-2:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        comp = fits.CompImageHDU(data, name="SCI", compression_type=how, tile_shape=tile)
    hdul["SCI"] = comp
    raw = bytearray(_write(hdul))
    detail = how
    twist = rng.random()
    if twist < 0.6:
        spans = seed_from_bytes(seed.name, bytes(raw)).headers
        hdu = next(i for i in range(1, len(spans)) if _find_card(raw, spans[i], "ZIMAGE") is not None)
        if twist < 0.3:
            key = ("ZNAXIS1", "ZNAXIS2", "ZNAXIS3", "ZNAXIS4", "ZNAXIS", "ZBITPIX", "ZTILE1")[int(rng.integers(7))]
            value = (b"4611686018427387904", b"2147483648", b"-1", b"0", b"1E999")[int(rng.integers(5))]
            set_card(raw, spans[hdu], key, value)
            detail += f" {key} = {value.decode()}"
        else:
            detail += " damaged tiles"
            start = spans[hdu][1]
            for _ in range(int(rng.integers(1, 9))):
                pos = int(rng.integers(start, len(raw)))
                raw[pos] = int(rng.integers(0, 256))
    return detail, bytes(raw), seed.name


def gzipped(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    return "gzip bytes under a .fits name", gzip.compress(seed.data, compresslevel=1), seed.name


def no_end(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    data = bytearray(seed.data)
    hdu = int(rng.integers(0, len(seed.headers)))
    end = _find_card(data, seed.headers[hdu], "END")
    if end is not None:
        data[end:end + CARD] = b"COMMENT".ljust(CARD)
    extra = int(rng.integers(1, 64)) * 65536  # 64 kB .. 4 MB of further cards, no END anywhere
    filler = (b"HISTORY no end in sight".ljust(CARD) * (extra // CARD))
    return f"HDU {hdu} END removed, {len(filler)} bytes of cards appended", bytes(data) + filler, seed.name


_NAMES = ("jw01234001001_01101_00001_nrca1_\u00e9\u00e8_uncal.fits", "\u2603\u2764_uncal.fits",
          "jw" + "1" * 240 + "_uncal.fits", "line\nbreak_uncal.fits", "tab\there_uncal.fits",
          "-rf_uncal.fits", "spa ce_uncal.fits", "bell\x07_uncal.fits", "esc\x1b[2J_uncal.fits",
          "semi;colon`$(x)`_uncal.fits", "\u00a0nbsp_uncal.fits", "CAPS_UNCAL.FITS", "x" * 200 + "_uncal.fits")


def odd_name(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    name = _NAMES[int(rng.integers(len(_NAMES)))]
    return f"name {name[:40]!r}", seed.data, name


def combined(seed: Seed, rng: np.random.Generator) -> tuple[str, bytes, str]:
    detail, data = _card_edit(seed, rng)
    return detail + "; " + _flip(data, rng, seed.headers[-1][1]), bytes(data), seed.name


#: Mutation kinds and how often each is drawn (weights).
KINDS: dict[str, tuple[Mutation, float]] = {
    "byte_flip": (byte_flip, 3.0), "truncate": (truncate, 1.0), "card_value": (card_value, 4.0),
    "card_remove": (card_remove, 1.5), "structure": (structure, 2.0), "window": (window, 1.0),
    "shape": (shape, 1.5), "dtype": (dtype, 1.0), "extension": (extension, 1.5), "compressed": (compressed, 1.5),
    "gzip": (gzipped, 0.3), "no_end": (no_end, 0.3), "name": (odd_name, 0.5), "combined": (combined, 2.0),
}


def make_case(seeds: list[Seed], run_seed: int, number: int, kind: str | None = None) -> Case:
    """Case ``number`` of run ``run_seed``: a seed and a mutation kind drawn by weight (or
    ``kind``), applied with a generator seeded by ``(run_seed, number)``."""
    rng = np.random.default_rng([run_seed, number])
    names = list(KINDS)
    weights = np.array([KINDS[k][1] for k in names])
    chosen = kind or names[int(rng.choice(len(names), p=weights / weights.sum()))]
    seed = seeds[int(rng.integers(len(seeds)))]
    detail, data, name = KINDS[chosen][0](seed, rng)
    return Case(number=number, kind=chosen, detail=detail, name=name, data=data)
