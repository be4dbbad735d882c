"""FITS reading and writing in the JWST layout, with the checks that keep bad input out.

:func:`read_raw` reads an ``_uncal`` (or ``_ramp``) file exactly as the archive ships it and
raises :class:`~streamcal.errors.BadInputError` with a one-line reason when it cannot.
Writers put every product under a temporary name and rename it into place, so no reader
ever sees half a file and a failed run leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
from astropy.io import fits

from .errors import BadInputError
from .models import ExposureMeta, ImageModel, RampModel
from .provenance import Provenance


def _check_complete(path: Path, hdul: fits.HDUList) -> None:
    size = path.stat().st_size
    for i, hdu in enumerate(hdul):
        info = hdul.fileinfo(i)
        if info is None:
            continue
        end = info["datLoc"] + info["datSpan"]
        if end > size:
            raise BadInputError(path, "truncated",
                                f"file is truncated: HDU {i} ({hdu.name}) needs {end} bytes, file has {size}")


@contextmanager
def open_fits(path: str | Path) -> Iterator[fits.HDUList]:
    """Open a FITS file lazily (memory-mapped, unscaled), turning every failure into
    :class:`BadInputError`."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "exists", "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # astropy only *warns* on truncation and bad cards
            hdul = fits.open(path, memmap=True, do_not_scale_image_data=True, lazy_load_hdus=False)
    except BadInputError:
        raise
    except Exception as exc:  # astropy raises OSError, ValueError, warnings ... for non-FITS
        raise BadInputError(path, "fits", f"not a readable FITS file ({type(exc).__name__}: {exc})") from None
    try:
        _check_complete(path, hdul)
        yield hdul
    finally:
        hdul.close()


def read_header(path: str | Path) -> fits.Header:
    """Primary header of a FITS file (cheap: no data are read)."""
    with open_fits(path) as hdul:
        return hdul[0].header.copy()


def _to_float32(hdu: fits.ImageHDU | fits.PrimaryHDU) -> np.ndarray:
    """Convert a (possibly BZERO-scaled integer) image to float32, one plane at a time so the
    peak memory is the float32 result plus one plane."""
    raw = hdu.data
    bzero = float(hdu.header.get("BZERO", 0.0))
    bscale = float(hdu.header.get("BSCALE", 1.0))
    out = np.empty(raw.shape, dtype=np.float32)
    flat_in = raw.reshape((-1,) + raw.shape[-2:])
    flat_out = out.reshape((-1,) + raw.shape[-2:])
    for k in range(flat_in.shape[0]):
        plane = flat_in[k].astype(np.float32)
        if bscale != 1.0:
            plane *= np.float32(bscale)
        if bzero:
            plane += np.float32(bzero)
        flat_out[k] = plane
    return out


def _table(hdul: fits.HDUList, name: str) -> np.ndarray | None:
    if name not in hdul:
        return None
    return np.array(hdul[name].data) if hdul[name].data is not None else None


def read_raw(path: str | Path) -> RampModel:
    """Read a raw exposure (``_uncal``) or a saved ramp into a :class:`RampModel`.

    SCI is converted to float32 DN; PIXELDQ/GROUPDQ are read when present and created
    zero-filled when not (archive uncal files have neither).

    Raises
    ------
    BadInputError
        Not FITS, truncated, no SCI extension, SCI not 4-D, or required keywords missing.
    """
    path = Path(path)
    with open_fits(path) as hdul:
        if "SCI" not in hdul:
            raise BadInputError(path, "layout", "no SCI extension: not a JWST raw exposure")
        sci = hdul["SCI"]
        shape = tuple(sci.data.shape) if sci.data is not None else ()
        if len(shape) != 4:
            raise BadInputError(path, "shape",
                                f"SCI must be 4-D (nints, ngroups, ny, nx) for a raw exposure, got {len(shape)}-D {shape}")
        try:
            meta = ExposureMeta.from_header(hdul[0].header, shape)
        except KeyError as exc:
            raise BadInputError(path, "keywords", f"missing required keywords: {exc.args[0]}") from None
        except (TypeError, ValueError) as exc:
            raise BadInputError(path, "keywords", f"invalid keyword value: {exc}") from None
        nints, ngroups, ny, nx = shape
        if (meta.nints, meta.ngroups) != (nints, ngroups):
            # Archive files may hold a segment (INTSTART..INTEND) of a longer exposure.
            meta = _with_shape(meta, nints, ngroups)
        data = _to_float32(sci)
        pixeldq = (np.array(hdul["PIXELDQ"].data, dtype=np.uint32) if "PIXELDQ" in hdul
                   else np.zeros((ny, nx), np.uint32))
        groupdq = (np.array(hdul["GROUPDQ"].data, dtype=np.uint8) if "GROUPDQ" in hdul
                   else np.zeros(shape, np.uint8))
        zeroframe = _to_float32(hdul["ZEROFRAME"]) if "ZEROFRAME" in hdul else None
        refout = _to_float32(hdul["REFOUT"]) if "REFOUT" in hdul else None
        header = hdul[0].header.copy()
        sci_header = _clean_image_header(sci.header)
        return RampModel(meta=meta, header=header, data=data, pixeldq=pixeldq, groupdq=groupdq,
                         sci_header=sci_header, zeroframe=zeroframe, refout=refout,
                         group=_table(hdul, "GROUP"), int_times=_table(hdul, "INT_TIMES"))


def _with_shape(meta: ExposureMeta, nints: int, ngroups: int) -> ExposureMeta:
    from dataclasses import replace
    return replace(meta, nints=nints, ngroups=ngroups)


_STRUCTURAL = ("XTENSION", "BITPIX", "NAXIS", "PCOUNT", "GCOUNT", "BZERO", "BSCALE", "EXTNAME",
               "EXTVER", "CHECKSUM", "DATASUM")


def _clean_image_header(header: fits.Header) -> fits.Header:
    out = header.copy()
    for key in list(out.keys()):
        if key.startswith("NAXIS") or key in _STRUCTURAL:
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
    """HDUs of a rate/rateints/guider-cal product: SCI, ERR, DQ, VAR_POISSON, VAR_RNOISE."""
    hdus: list = [_primary(model.header, provenance, datamodel),
                  _image("SCI", model.data.astype(np.float32, copy=False), model.sci_header, model.bunit),
                  _image("ERR", model.err.astype(np.float32, copy=False), bunit=model.bunit),
                  _image("DQ", model.dq.astype(np.uint32, copy=False))]
    var_unit = f"({model.bunit})**2"
    if model.var_poisson is not None:
        hdus.append(_image("VAR_POISSON", model.var_poisson.astype(np.float32, copy=False), bunit=var_unit))
    if model.var_rnoise is not None:
        hdus.append(_image("VAR_RNOISE", model.var_rnoise.astype(np.float32, copy=False), bunit=var_unit))
    return fits.HDUList(hdus + _tail(provenance, model.int_times))


def ramp_hdulist(model: RampModel, provenance: Provenance | None) -> fits.HDUList:
    """HDUs of a ``_ramp``/``_dark`` product (RampModel layout)."""
    hdus: list = [_primary(model.header, provenance, "RampModel"),
                  _image("SCI", model.data, model.sci_header, "DN"),
                  _image("PIXELDQ", model.pixeldq),
                  _image("GROUPDQ", model.groupdq)]
    if model.zeroframe is not None:
        hdus.append(_image("ZEROFRAME", model.zeroframe.astype(np.float32), bunit="DN"))
    if model.group is not None:
        hdus.append(fits.BinTableHDU(model.group, name="GROUP"))
    return fits.HDUList(hdus + _tail(provenance, model.int_times))


def write_image(model: ImageModel, path: str | Path, provenance: Provenance | None = None,
                datamodel: str = "ImageModel") -> Path:
    """Write a rate/rateints/cal product atomically; returns the final path."""
    return atomic_write(image_hdulist(model, provenance, datamodel), path)


def write_ramp(model: RampModel, path: str | Path, provenance: Provenance | None = None) -> Path:
    """Write a 4-D ramp product (``_ramp``, ``_dark``) atomically; returns the final path."""
    return atomic_write(ramp_hdulist(model, provenance), path)
