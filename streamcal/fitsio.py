"""FITS reading and writing in the JWST layout, with the checks that keep bad input out.

:func:`read_raw` reads an ``_uncal`` (or ``_ramp``) file exactly as the archive ships it and
raises :class:`~streamcal.errors.BadInputError` with a one-line reason when it cannot.
Writers put every product under a temporary name and rename it into place, so no reader
ever sees half a file and a failed run leaves nothing behind.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from astropy.io import fits

from . import boundary
from .errors import BadInputError
from .models import ExposureMeta, ImageModel, MosaicModel, RampModel
from .provenance import Provenance


@contextmanager
def open_fits(path: str | Path) -> Iterator[fits.HDUList]:
    """Open a FITS file lazily (memory-mapped, unscaled) once the boundary has vouched for it
    (:func:`streamcal.boundary.open_checked`: name, regular file, complete FITS structure with
    bounded headers, no tile compression); every failure is a :class:`BadInputError`."""
    path = Path(path)
    with boundary.open_checked(path) as (fh, _layout):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # astropy only *warns* on bad cards
                hdul = fits.open(fh, memmap=True, do_not_scale_image_data=True, lazy_load_hdus=False)
                _parse_every_card(hdul)
        except Exception as exc:  # astropy raises OSError, ValueError, VerifyError, warnings ... on bad cards
            raise BadInputError(path, "fits", f"not a readable FITS file ({type(exc).__name__}: {exc})") from None
        try:
            yield hdul
        finally:
            hdul.close()


#: A FITS keyword (standard 4.0, section 4.1.2.1); longer ones only as HIERARCH cards.
_KEYWORD = re.compile(r"[A-Z0-9_-]{0,8}")


def _parse_every_card(hdul: fits.HDUList) -> None:
    """Parse every card now: astropy parses a card's value when it is first read, so a mangled
    card would otherwise raise wherever a caller happens to look it up (the router, a step), and
    an illegal keyword when a product carrying the header is written."""
    for hdu in hdul:
        for card in hdu.header.cards:
            card.value  # noqa: B018 -- parsing is the point
            if not _KEYWORD.fullmatch(card.keyword) and not card.image.startswith("HIERARCH"):
                raise ValueError(f"HDU {hdu.name}: illegal keyword {card.keyword!r}")


def read_header(path: str | Path) -> fits.Header:
    """Primary header of a FITS file (cheap: no data are read)."""
    with open_fits(path) as hdul:
        return hdul[0].header.copy()


def _to_float32(path: Path, hdu: fits.ImageHDU | fits.PrimaryHDU) -> np.ndarray:
    """A checked image as float32 DN (BZERO/BSCALE applied; :func:`streamcal.boundary.to_float32`)."""
    return boundary.to_float32(path, hdu)


def _table(path: Path, hdul: fits.HDUList, name: str) -> np.ndarray | None:
    return boundary.table(path, hdul, name)


def _meta(path: Path, hdul: fits.HDUList, shape: tuple[int, ...]) -> ExposureMeta:
    return ExposureMeta.from_header(hdul[0].header, shape, source=str(path))


def read_raw(path: str | Path, *, budget: int | None = None) -> RampModel:
    """Read a raw exposure (``_uncal``) or a saved ramp into a :class:`RampModel`.

    SCI is converted to float32 DN; PIXELDQ/GROUPDQ are read when present and created
    zero-filled when not (archive uncal files have neither).  Every array is checked against
    the header and the others, and the whole read against the memory budget, before any
    data are read (:func:`streamcal.boundary.check_raw`).

    Parameters
    ----------
    path : str or Path
    budget : int, optional
        Bytes the read may allocate; default the process's
        (:func:`streamcal.boundary.memory_budget`).

    Raises
    ------
    BadInputError
        Not FITS, truncated, tile-compressed, no SCI extension, SCI not 4-D, arrays that
        disagree with SCI or the header's window, keywords missing or out of range, or more
        memory than the budget.
    """
    path = Path(path)
    with open_fits(path) as hdul:
        raw = boundary.check_raw(path, hdul, budget)
        nints, ngroups, ny, nx = shape = raw.shape
        meta = _meta(path, hdul, shape)
        boundary.check_exposure_window(path, meta)
        if (meta.nints, meta.ngroups) != (nints, ngroups):
            # Archive files may hold a segment (INTSTART..INTEND) of a longer exposure.
            meta = _with_shape(meta, nints, ngroups)
        present = raw.extensions
        data = _to_float32(path, hdul["SCI"])
        pixeldq = (boundary.dq_uint32(path, hdul["PIXELDQ"]) if "PIXELDQ" in present
                   else np.zeros((ny, nx), np.uint32))
        groupdq = (boundary.dq_uint32(path, hdul["GROUPDQ"], np.uint8) if "GROUPDQ" in present
                   else np.zeros(shape, np.uint8))
        zeroframe = _to_float32(path, hdul["ZEROFRAME"]) if "ZEROFRAME" in present else None
        refout = _to_float32(path, hdul["REFOUT"]) if "REFOUT" in present else None
        header = hdul[0].header.copy()
        sci_header = _clean_image_header(hdul["SCI"].header)
        return RampModel(meta=meta, header=header, data=data, pixeldq=pixeldq, groupdq=groupdq,
                         sci_header=sci_header, zeroframe=zeroframe, refout=refout,
                         group=_table(path, hdul, "GROUP"), int_times=_table(path, hdul, "INT_TIMES"))


def _with_shape(meta: ExposureMeta, nints: int, ngroups: int) -> ExposureMeta:
    from dataclasses import replace
    return replace(meta, nints=nints, ngroups=ngroups)


_STRUCTURAL = ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "BZERO", "BSCALE", "BLANK", "EXTNAME",
               "EXTVER", "CHECKSUM", "DATASUM", "TFIELDS", "THEAP")
#: Structural cards of tables (TFORMn, TTYPEn ...) and of tile compression (ZNAXISn, ZTILEn ...):
#: meaningless in an image header, and fatal when a product is written with them.
_STRUCTURAL_PATTERN = re.compile(r"(NAXIS|T(FORM|TYPE|UNIT|DIM|NULL|SCAL|ZERO|DISP)\d|Z(NAXIS|TILE|NAME|VAL)|"
                                 r"Z(IMAGE|CMPTYPE|BITPIX|QUANTIZ|DITHER0|SIMPLE|EXTEND|TENSION|PCOUNT|GCOUNT|"
                                 r"HECKSUM|DATASUM|BLANK)$)")


def _clean_image_header(header: fits.Header) -> fits.Header:
    out = header.copy()
    for key in list(out.keys()):
        if key in _STRUCTURAL or _STRUCTURAL_PATTERN.match(key):
            out.remove(key, ignore_missing=True, remove_all=True)
    return out


# ---------------------------------------------------------------------------------- writing

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(hdul: fits.HDUList, path: str | Path) -> Path:
    """Write ``hdul`` to ``path`` via a hidden temporary file in the same directory and an
    atomic rename, so ``path`` is either absent or complete."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; products are for everyone to read
    try:
        hdul.writeto(tmp, overwrite=True, output_verify="silentfix")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _primary(header: fits.Header, provenance: Provenance | None, datamodel: str) -> fits.PrimaryHDU:
    hdr = _clean_image_header(header)
    hdr["DATAMODL"] = datamodel
    if provenance is not None:
        provenance.apply_to_header(hdr)
    return fits.PrimaryHDU(header=hdr)


def _image(name: str, array: np.ndarray, header: fits.Header | None = None, bunit: str | None = None) -> fits.ImageHDU:
    hdu = fits.ImageHDU(array, header=header.copy() if header is not None else None, name=name)
    if bunit:
        hdu.header["BUNIT"] = bunit
    return hdu


def _tail(provenance: Provenance | None, int_times: np.ndarray | None) -> list[fits.BinTableHDU]:
    out = []
    if int_times is not None:
        out.append(fits.BinTableHDU(int_times, name="INT_TIMES"))
    if provenance is not None:
        out.append(provenance.table_hdu())
    return out


def image_hdulist(model: ImageModel, provenance: Provenance | None, datamodel: str) -> fits.HDUList:
    """HDUs of a rate/rateints/guider-cal/cal/calints product: SCI, ERR, DQ, VAR_POISSON,
    VAR_RNOISE, when present VAR_FLAT, AREA, INT_TIMES, PROVENANCE, and ASDF (jwst's metadata
    tree, with the gwcs when there is one)."""
    hdus: list = [_primary(model.header, provenance, datamodel),
                  _image("SCI", model.data.astype(np.float32, copy=False), model.sci_header, model.bunit),
                  _image("ERR", model.err.astype(np.float32, copy=False), bunit=model.bunit),
                  _image("DQ", model.dq.astype(np.uint32, copy=False))]
    var_unit = f"({model.bunit})**2"
    if model.var_poisson is not None:
        hdus.append(_image("VAR_POISSON", model.var_poisson.astype(np.float32, copy=False), bunit=var_unit))
    if model.var_rnoise is not None:
        hdus.append(_image("VAR_RNOISE", model.var_rnoise.astype(np.float32, copy=False), bunit=var_unit))
    if model.var_flat is not None:
        hdus.append(_image("VAR_FLAT", model.var_flat.astype(np.float32, copy=False), bunit=var_unit))
    if model.area is not None:
        hdus.append(_image("AREA", model.area.astype(np.float32, copy=False)))
    return _with_asdf(hdus + _tail(provenance, model.int_times), model.wcs)


def ramp_hdulist(model: RampModel, provenance: Provenance | None) -> fits.HDUList:
    """HDUs of a ``_ramp``/``_dark`` product (RampModel layout), ASDF (the metadata tree) last."""
    hdus: list = [_primary(model.header, provenance, "RampModel"),
                  _image("SCI", model.data, model.sci_header, "DN"),
                  _image("PIXELDQ", model.pixeldq),
                  _image("GROUPDQ", model.groupdq)]
    if model.zeroframe is not None:
        hdus.append(_image("ZEROFRAME", model.zeroframe.astype(np.float32), bunit="DN"))
    if model.group is not None:
        hdus.append(fits.BinTableHDU(model.group, name="GROUP"))
    return _with_asdf(hdus + _tail(provenance, model.int_times), None)


def write_image(model: ImageModel, path: str | Path, provenance: Provenance | None = None,
                datamodel: str = "ImageModel") -> Path:
    """Write a rate/rateints/cal product atomically; returns the final path."""
    return atomic_write(image_hdulist(model, provenance, datamodel), path)


def write_ramp(model: RampModel, path: str | Path, provenance: Provenance | None = None) -> Path:
    """Write a 4-D ramp product (``_ramp``, ``_dark``) atomically; returns the final path."""
    return atomic_write(ramp_hdulist(model, provenance), path)


# ------------------------------------------------------------------ stage 2: cal / calints

#: Largest ASDF extension read back (a gwcs is a few kB; anything huge is not ours).
MAX_ASDF_BYTES = 64 << 20
#: Image extensions of a cal/calints (and rate/rateints) file that have SCI's shape.
_CAL_ARRAYS = {"ERR": "err", "VAR_POISSON": "var_poisson", "VAR_RNOISE": "var_rnoise", "VAR_FLAT": "var_flat"}


def asdf_hdu(wcs=None, hdus: Sequence | None = None) -> fits.BinTableHDU:
    """The ``ASDF`` extension jwst products carry: one row, column ``ASDF_METADATA`` holding
    an ASDF file as bytes, its tree the one stdatamodels builds from the headers of ``hdus``
    (the product's other HDUs, primary first; :func:`streamcal.jwst_meta.metadata_tree`), with
    the gwcs at ``meta.wcs`` when ``wcs`` is given.  Without ``hdus`` (or for a DATAMODL class
    the keyword table does not cover) the tree holds the WCS alone."""
    from .jwst_meta import MODELS, metadata_tree
    from .wcs.serialize import tree_to_asdf_bytes

    known = bool(hdus) and str(hdus[0].header.get("DATAMODL", "")) in MODELS.values()
    raw = np.frombuffer(tree_to_asdf_bytes(metadata_tree(hdus) if known else {}, wcs), dtype=np.uint8)
    col = fits.Column("ASDF_METADATA", format=f"{raw.size}B", array=raw[None, :])
    return fits.BinTableHDU.from_columns([col], name="ASDF")


def warm_up() -> None:
    """Load the ASDF machinery every product write needs (asdf's extensions, the metadata
    table): ~1 s the first time in a process, ~5 ms after; a stream worker pays it at start."""
    primary = fits.PrimaryHDU()
    primary.header["DATAMODL"] = "ImageModel"
    asdf_hdu(None, [primary, fits.ImageHDU(name="SCI")])


def _with_asdf(hdus: list, wcs) -> fits.HDUList:
    """``hdus`` and, last as in jwst's files, their ASDF extension."""
    return fits.HDUList(hdus + [asdf_hdu(wcs, hdus)])


def wcs_from_hdulist(path: str | Path, hdul: fits.HDUList):
    """The gwcs of a product's ``ASDF`` extension; None when the file has no such extension
    or its tree holds no WCS (official jwst ``_rate``/``_rateints`` files carry an extension
    of metadata only).

    Raises
    ------
    BadInputError
        The extension is too large, malformed, or its WCS node is not a gwcs.
    """
    if "ASDF" not in hdul:
        return None
    from .wcs.serialize import asdf_tree_wcs

    hdu = hdul["ASDF"]
    try:
        if hdu.size > MAX_ASDF_BYTES:
            raise ValueError(f"{hdu.size} bytes")
        raw = np.asarray(hdu.data["ASDF_METADATA"][0], dtype=np.uint8).tobytes()
        return asdf_tree_wcs(raw)
    except Exception as exc:  # asdf/yaml/astropy errors of every kind on a corrupt extension
        raise BadInputError(path, "asdf", f"unreadable ASDF (WCS) extension: {type(exc).__name__}: {exc}") from None


def _checked_image(path: Path, hdu, shapes: tuple, kinds: str) -> fits.ImageHDU:
    """An image extension of one of ``shapes`` and numpy kinds ``kinds``, checked from its header."""
    boundary.checked_image(path, hdu, ndim=tuple({len(s) for s in shapes}), kinds=kinds)
    boundary.expect_shape(path, hdu, shapes)
    return hdu


def _float_image(path: Path, hdul: fits.HDUList, name: str, shape: tuple[int, ...]) -> np.ndarray:
    return _to_float32(path, _checked_image(path, hdul[name], (shape,), "iuf"))


def _dq_image(path: Path, hdu, shape: tuple[int, ...]) -> np.ndarray:
    """DQ as uint32: files store it as int32 + BZERO 2**31 (FITS has no unsigned type)."""
    return boundary.dq_uint32(path, _checked_image(path, hdu, (shape, shape[-2:]), "iu"))


def _cal_arrays(path: Path, hdul: fits.HDUList, budget: int | None) -> dict:
    if "SCI" not in hdul or not isinstance(hdul["SCI"], (fits.ImageHDU, fits.PrimaryHDU)) or not hdul["SCI"].shape:
        raise BadInputError(path, "layout", "no SCI image: not a rate/cal product")
    shape = tuple(hdul["SCI"].shape)
    if len(shape) not in (2, 3):
        raise BadInputError(path, "shape", f"SCI must be 2-D or 3-D for a rate/cal product, got {len(shape)}-D {shape}")
    planes = 3 + sum(ext in hdul for ext in _CAL_ARRAYS)  # SCI, ERR and DQ always; the variances when present
    boundary.check_budget(path, f"reading {planes} arrays of shape {shape}", planes * 4 * float(np.prod(shape)), budget)
    out = {"data": _float_image(path, hdul, "SCI", shape)}
    for ext, attr in _CAL_ARRAYS.items():
        if ext in hdul:
            out[attr] = _float_image(path, hdul, ext, shape)
    if "err" not in out:
        out["err"] = np.zeros(shape, np.float32)
    out["dq"] = _dq_image(path, hdul["DQ"], shape) if "DQ" in hdul else np.zeros(shape, np.uint32)
    if "AREA" in hdul:
        out["area"] = _float_image(path, hdul, "AREA", shape[-2:])
    return out


def read_cal(path: str | Path, *, budget: int | None = None) -> ImageModel:
    """Read a ``_rate``/``_rateints``/``_cal``/``_calints`` (or ``_bsub``) product.

    Parameters
    ----------
    path : str or Path
    budget : int, optional
        Bytes the read may allocate; default the process's memory budget.

    Returns
    -------
    ImageModel
        Arrays as float32 (DQ uint32), ``bunit`` from SCI's BUNIT, ``wcs`` from the ASDF
        extension (None when absent), ``sci_header`` with its WCS/SIP and PHOTMJSR keywords.

    Raises
    ------
    BadInputError
        Not FITS, truncated, tile-compressed, no 2-D/3-D SCI, arrays of mismatched shape or
        type, missing or out-of-range primary keywords, an unreadable ASDF extension, or more
        memory than the budget.
    """
    path = Path(path)
    with open_fits(path) as hdul:
        arrays = _cal_arrays(path, hdul, budget)
        meta = _meta(path, hdul, arrays["data"].shape)
        boundary.check_exposure_window(path, meta)  # the window stage 2 cuts its references by
        sci_header = _clean_image_header(hdul["SCI"].header)
        bunit = str(sci_header.pop("BUNIT", "DN/s"))
        return ImageModel(meta=meta, header=hdul[0].header.copy(), sci_header=sci_header, bunit=bunit,
                          int_times=_table(path, hdul, "INT_TIMES"), wcs=wcs_from_hdulist(path, hdul), **arrays)


def write_cal(model: ImageModel, path: str | Path, provenance: Provenance | None = None) -> Path:
    """Write a ``_cal`` (ImageModel) or ``_calints`` (CubeModel) product atomically."""
    return write_image(model, path, provenance, "CubeModel" if model.data.ndim == 3 else "ImageModel")


# ------------------------------------------------------------------- stage 3: i2d mosaics

#: Image extensions of an i2d besides SCI/CON, and the MosaicModel attribute each fills.
_MOSAIC_ARRAYS = {"ERR": "err", "WHT": "wht", "VAR_POISSON": "var_poisson", "VAR_RNOISE": "var_rnoise",
                  "VAR_FLAT": "var_flat"}
#: Primary keyword naming the input of a one-input mosaic (several inputs: HDRTAB FILENAME).
_SINGLE_MEMBER_KEY = "SC_MEMBR"


def hdrtab_hdu(headers: list[fits.Header]) -> fits.BinTableHDU:
    """jwst's ``HDRTAB``: one row per input, one column per primary keyword found in any input
    (booleans L, integers K, numbers D, anything else text); absent values are empty/NaN/0."""
    keys: list[str] = []
    for header in headers:
        keys += [k for k in header.keys() if k and k not in ("COMMENT", "HISTORY") and k not in keys]
    columns = [_hdrtab_column(key, [h.get(key) for h in headers]) for key in keys]
    return fits.BinTableHDU.from_columns(columns, name="HDRTAB")


def _hdrtab_column(key: str, values: list) -> fits.Column:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return fits.Column(key, "L", array=[bool(v) if v is not None else False for v in values])
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return fits.Column(key, "K", array=[v if v is not None else 0 for v in values])
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return fits.Column(key, "D", array=[float(v) if v is not None else np.nan for v in values])
    text = ["" if v is None else str(v) for v in values]
    return fits.Column(key, f"A{max(1, max(len(t) for t in text))}", array=text)


def mosaic_hdulist(model: MosaicModel, provenance: Provenance | None = None,
                   input_headers: list[fits.Header] | None = None) -> fits.HDUList:
    """HDUs of an ``i2d``: SCI (TAN WCS in its header), ERR, CON, WHT, VAR_* when present,
    HDRTAB when there are several inputs, PROVENANCE, ASDF (the metadata tree and the gwcs)."""
    primary = _primary(model.header, provenance, "ImageModel")
    if len(model.members) == 1:
        primary.header[_SINGLE_MEMBER_KEY] = model.members[0]
    var_unit = f"({model.bunit})**2"
    hdus: list = [primary,
                  _image("SCI", model.data.astype(np.float32, copy=False), model.sci_header, model.bunit),
                  _image("ERR", model.err.astype(np.float32, copy=False), bunit=model.bunit),
                  _image("CON", model.con.astype(np.int32, copy=False)),
                  _image("WHT", model.wht.astype(np.float32, copy=False))]
    for ext in ("VAR_POISSON", "VAR_RNOISE", "VAR_FLAT"):
        array = getattr(model, _MOSAIC_ARRAYS[ext])
        if array is not None:
            hdus.append(_image(ext, array.astype(np.float32, copy=False), bunit=var_unit))
    if len(model.members) > 1:
        headers = input_headers or [fits.Header({"FILENAME": name}) for name in model.members]
        hdus.append(hdrtab_hdu(headers))
    if provenance is not None:
        hdus.append(provenance.table_hdu())
    return _with_asdf(hdus, model.wcs)


def write_mosaic(model: MosaicModel, path: str | Path, provenance: Provenance | None = None,
                 input_headers: list[fits.Header] | None = None) -> Path:
    """Write an ``i2d`` product atomically; ``input_headers`` (the inputs' primary headers, in
    CON bit order) fill HDRTAB.  Returns the final path."""
    return atomic_write(mosaic_hdulist(model, provenance, input_headers), path)


def _mosaic_members(hdul: fits.HDUList) -> list[str]:
    if "HDRTAB" in hdul and hdul["HDRTAB"].data is not None and "FILENAME" in hdul["HDRTAB"].columns.names:
        return [str(v).strip() for v in hdul["HDRTAB"].data["FILENAME"]]
    name = hdul[0].header.get(_SINGLE_MEMBER_KEY)
    return [str(name)] if name else []


def _mosaic_con(path: Path, hdul: fits.HDUList, shape: tuple[int, ...]) -> np.ndarray:
    """The context planes, checked from the header before their data are read."""
    if "CON" not in hdul or not hdul["CON"].header.get("NAXIS"):
        return np.zeros((0,) + shape, np.int32)
    hdu = boundary.checked_image(path, hdul["CON"], ndim=(2, 3), kinds="iu")
    if tuple(hdu.shape)[-2:] != shape:
        raise BadInputError(path, "shape", f"CON must be an integer (nplanes,) + {shape} array, "
                                           f"got {tuple(hdu.shape)}")
    con = boundary.load(path, hdu)
    return np.array(con[None] if con.ndim == 2 else con, dtype=np.int32)


def _fallback_grid_wcs(header: fits.Header, shape: tuple[int, ...]):
    """A gwcs from SCI's FITS TAN keywords, for i2d files without an ASDF extension."""
    from .steps.resample.grid import OutputGrid  # the TAN grid type resample writes

    try:
        return OutputGrid.from_fits_header(header, shape).gwcs()
    except Exception:  # no or unusable FITS WCS: the model simply has no WCS
        return None


def read_mosaic(path: str | Path) -> MosaicModel:
    """Read an ``i2d`` product (streamcal's or jwst's).

    Returns
    -------
    MosaicModel
        Arrays as float32 (CON int32 (nplanes, ny, nx)); ``wcs`` from the ASDF extension,
        else from a plain TAN header in SCI, else None; ``members`` from HDRTAB (or the
        single-input keyword).

    Raises
    ------
    BadInputError
        Not FITS, truncated, SCI missing or not 2-D, arrays of other shapes, or an unreadable
        ASDF extension.
    """
    path = Path(path)
    with open_fits(path) as hdul:
        if "SCI" not in hdul or hdul["SCI"].data is None or hdul["SCI"].data.ndim != 2:
            raise BadInputError(path, "layout", "no 2-D SCI image: not an i2d product")
        shape = tuple(hdul["SCI"].data.shape)
        arrays = {attr: _float_image(path, hdul, ext, shape) for ext, attr in _MOSAIC_ARRAYS.items() if ext in hdul}
        arrays.setdefault("err", np.full(shape, np.nan, np.float32))
        arrays.setdefault("wht", np.zeros(shape, np.float32))
        sci_header = _clean_image_header(hdul["SCI"].header)
        wcs = wcs_from_hdulist(path, hdul) or _fallback_grid_wcs(sci_header, shape)
        bunit = str(sci_header.pop("BUNIT", "MJy/sr"))
        return MosaicModel(header=hdul[0].header.copy(), data=_float_image(path, hdul, "SCI", shape),
                           con=_mosaic_con(path, hdul, shape), wcs=wcs, members=_mosaic_members(hdul),
                           sci_header=sci_header, bunit=bunit, **arrays)
