"""FITS products of spectra and 2-D spectral images, in the layouts of jwst 3.0 / stdatamodels 6.0.

========================  =====================  ==================================================
writer                    stdatamodels class     HDUs (after PRIMARY)
========================  =====================  ==================================================
:func:`write_x1d`         MultiSpecModel         EXTRACT1D per spectrum (one row per wavelength)
:func:`write_x1dints`     TSOMultiSpecModel      [INT_TIMES] + EXTRACT1D per slit/order (one row per
                                                 integration, vector columns)
:func:`write_wfss_x1d`    WFSSMultiSpecModel     EXTRACT1D per exposure and order (one row per source)
:func:`write_c1d`         MultiCombinedSpecModel COMBINE1D per spectral order
:func:`write_slit`        SlitModel              SCI ERR DQ VAR_* WAVELENGTH [PATHLOSS_*]
:func:`write_multislit`   MultiSlitModel         SCI ERR DQ VAR_* WAVELENGTH ... per slit (EXTVER 1..n)
========================  =====================  ==================================================

Every product ends with PROVENANCE (when given) and jwst's ``ASDF`` extension: the metadata
tree stdatamodels builds from the primary header (:func:`streamcal.jwst_meta.metadata_tree`),
and the gwcs of a slit (``meta.wcs``, ``slits[i].meta.wcs``).  The tree holds no FITS hash, so
stdatamodels reads every table and keyword from the FITS HDUs on open.  Products are written
atomically (:func:`streamcal.fitsio.atomic_write`); readers give the dataclasses back.
"""

from __future__ import annotations

import io as _io
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from astropy.io import fits

from ..fitsio import _clean_image_header, atomic_write, open_fits, wcs_from_hdulist
from ..provenance import Provenance
from .model import (COMBINED_COLUMNS, SPEC_COLUMNS, SPEC_KEYWORDS, TSO_EXTRA_COLUMNS, WFSS_EXTRA_COLUMNS,
                    CombinedSpectrum, Spectrum, SpectrumMeta, TSOSpectra, WFSSSpectra, spectral_units)
from .slit import SLIT_ARRAYS, SLIT_KEYWORDS, SlitImage

__all__ = ["SpectraProduct", "SlitProduct", "write_x1d", "write_x1dints", "write_wfss_x1d", "write_c1d",
           "write_slit", "write_multislit", "read_x1d", "read_x1dints", "read_wfss_x1d", "read_c1d",
           "read_slit", "read_multislit"]


@dataclass(frozen=True)
class SpectraProduct:
    """What a reader gives back: the primary header and the product's spectra (a tuple of
    :class:`Spectrum`, :class:`TSOSpectra`, :class:`WFSSSpectra` or one
    :class:`CombinedSpectrum`), with INT_TIMES when the file has it."""

    header: fits.Header
    spectra: tuple
    int_times: np.ndarray | None = None


@dataclass(frozen=True)
class SlitProduct:
    """A SlitModel/MultiSlitModel file read back: primary header and slits."""

    header: fits.Header
    slits: tuple[SlitImage, ...]


# --------------------------------------------------------------------------- common helpers

def _primary(header: fits.Header, datamodel: str, provenance: Provenance | None) -> fits.PrimaryHDU:
    hdr = _clean_image_header(header)
    for key in ("EXTNAME", "EXTVER", "BUNIT"):
        hdr.remove(key, ignore_missing=True, remove_all=True)
    hdr["DATAMODL"] = datamodel
    if provenance is not None:
        provenance.apply_to_header(hdr)
    return fits.PrimaryHDU(header=hdr)


def _set(header: fits.Header, keyword: str, value) -> None:
    """Set a card unless the value is None (an absent keyword stays absent)."""
    if value is None:
        return
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return  # FITS has no NaN card value; jwst leaves such keywords out too
    header[keyword] = value


def _asdf_bytes(tree: dict) -> bytes:
    import asdf

    buffer = _io.BytesIO()
    asdf.AsdfFile(tree).write_to(buffer)
    return buffer.getvalue()


def _finish(hdus: list, provenance: Provenance | None, wcs=None, slit_wcs: Sequence | None = None) -> fits.HDUList:
    """``hdus`` + PROVENANCE + ASDF (primary metadata tree; gwcs at ``meta.wcs`` or per slit)."""
    from ..jwst_meta import metadata_tree
    from ..wcs.serialize import tree_to_asdf_bytes

    if provenance is not None:
        hdus.append(provenance.table_hdu())
    # the primary header's schema keywords are shared by every jwst model (core schema)
    tree = metadata_tree(hdus[:1], "ImageModel")
    if slit_wcs and any(w is not None for w in slit_wcs):
        tree["slits"] = [{"meta": {"wcs": w}} if w is not None else {} for w in slit_wcs]
        raw = _asdf_bytes(tree)
    else:
        raw = tree_to_asdf_bytes(tree, wcs)
    array = np.frombuffer(raw, dtype=np.uint8)
    col = fits.Column("ASDF_METADATA", format=f"{array.size}B", array=array[None, :])
    return fits.HDUList(hdus + [fits.BinTableHDU.from_columns([col], name="ASDF")])


def _meta_cards(header: fits.Header, meta: SpectrumMeta) -> None:
    for name, keyword in SPEC_KEYWORDS.items():
        _set(header, keyword, getattr(meta, name))


def _meta_from(header: fits.Header, calibrated: bool) -> SpectrumMeta:
    values = {}
    for name, keyword in SPEC_KEYWORDS.items():
        value = header.get(keyword)
        values[name] = None if value is None or isinstance(value, fits.card.Undefined) else value
    return SpectrumMeta(**values, calibrated=calibrated)


def _calibrated(hdu) -> bool:
    return str(hdu.columns["FLUX"].unit or "Jy").strip() != "DN/s"


def _vector_columns(spectral: dict, units: dict) -> list[fits.Column]:
    width = next(iter(spectral.values())).shape[1]
    code = {"f8": "D", "u4": "J"}
    cols = []
    for name, dtype in SPEC_COLUMNS:
        array = np.asarray(spectral[name], dtype=dtype)
        cols.append(fits.Column(name, format=f"{width}{code[dtype]}", unit=units.get(name), array=array,
                                **({"bzero": 2**31} if dtype == "u4" else {})))
    return cols


def _scalar_column(name: str, dtype: str, array, unit: str | None = None) -> fits.Column:
    if dtype.startswith("S"):
        return fits.Column(name, format=f"{dtype[1:]}A", array=np.asarray(array, dtype=dtype), unit=unit)
    code = {"f8": "D", "i4": "J", "u4": "J"}[dtype]
    return fits.Column(name, format=code, array=np.asarray(array, dtype=dtype), unit=unit,
                       **({"bzero": 2**31} if dtype == "u4" else {}))


# ------------------------------------------------------------------------------------ x1d

def _x1d_hdu(spectrum: Spectrum, index: int) -> fits.BinTableHDU:
    units = spectral_units(spectrum.meta.calibrated)
    rec = np.rec.fromarrays([spectrum.column(c).astype(t) for c, t in SPEC_COLUMNS],
                            dtype=[(c, t) for c, t in SPEC_COLUMNS])
    hdu = fits.BinTableHDU(rec, name="EXTRACT1D", ver=index)
    for i, (name, _) in enumerate(SPEC_COLUMNS, start=1):
        if name in units:
            hdu.header[f"TUNIT{i}"] = units[name]
    _meta_cards(hdu.header, spectrum.meta)
    return hdu


def write_x1d(path: str | Path, header: fits.Header, spectra: Sequence[Spectrum],
              provenance: Provenance | None = None) -> Path:
    """Write an ``_x1d`` (MultiSpecModel): one EXTRACT1D table per spectrum, one row per sample.

    Parameters
    ----------
    path : str or Path
    header : astropy.io.fits.Header
        Primary header of the product (the exposure's, as the caller wants it kept).
    spectra : sequence of Spectrum
        At least one.
    provenance : Provenance, optional

    Returns
    -------
    Path
    """
    if not spectra:
        raise ValueError("write_x1d: no spectra")
    hdus = [_primary(header, "MultiSpecModel", provenance)]
    hdus += [_x1d_hdu(s, i) for i, s in enumerate(spectra, start=1)]
    return atomic_write(_finish(hdus, provenance), path)


def _read_table(hdu) -> dict[str, np.ndarray]:
    data = hdu.data
    return {name: np.array(data[name]) for name in data.columns.names}


def read_x1d(path: str | Path) -> SpectraProduct:
    """Read an ``_x1d`` (MultiSpecModel) back: its primary header and a :class:`Spectrum` per
    EXTRACT1D table."""
    with open_fits(path) as hdul:
        spectra = tuple(Spectrum.from_columns(_read_table(h), _meta_from(h.header, _calibrated(h)))
                        for h in hdul if h.name == "EXTRACT1D")
        return SpectraProduct(hdul[0].header.copy(), spectra)


# ------------------------------------------------------------------------------- x1dints

def _tso_hdu(tso: TSOSpectra, index: int) -> fits.BinTableHDU:
    units = spectral_units(tso.meta.calibrated)
    scalars = {"N_ALONGDISP": tso.n_alongdisp, "SEGMENT": tso.segment, "MJD-BEG": tso.mjd_beg,
               "MJD-AVG": tso.mjd_avg, "MJD-END": tso.mjd_end, "TDB-BEG": tso.tdb_beg, "TDB-MID": tso.tdb_mid,
               "TDB-END": tso.tdb_end}
    cols = [_scalar_column("INT_NUM", "i4", tso.int_num)] + _vector_columns(tso.spectral, units)
    cols += [_scalar_column(name, dtype, scalars[name]) for name, dtype in TSO_EXTRA_COLUMNS]
    hdu = fits.BinTableHDU.from_columns(cols, name="EXTRACT1D", ver=index)
    _meta_cards(hdu.header, tso.meta)
    return hdu


def write_x1dints(path: str | Path, header: fits.Header, spectra: Sequence[TSOSpectra],
                  provenance: Provenance | None = None, int_times: np.ndarray | None = None) -> Path:
    """Write an ``_x1dints`` (TSOMultiSpecModel, jwst >= 1.19): one EXTRACT1D table per
    slit/order, one row per integration, spectral columns as fixed-length vectors; INT_TIMES
    (the input's table) first when given."""
    if not spectra:
        raise ValueError("write_x1dints: no spectra")
    hdus: list = [_primary(header, "TSOMultiSpecModel", provenance)]
    if int_times is not None:
        hdus.append(fits.BinTableHDU(int_times, name="INT_TIMES"))
    hdus += [_tso_hdu(s, i) for i, s in enumerate(spectra, start=1)]
    return atomic_write(_finish(hdus, provenance), path)


def read_x1dints(path: str | Path) -> SpectraProduct:
    """Read an ``_x1dints`` back: a :class:`TSOSpectra` per EXTRACT1D table, INT_TIMES."""
    out = []
    with open_fits(path) as hdul:
        for hdu in hdul:
            if hdu.name != "EXTRACT1D":
                continue
            table = _read_table(hdu)
            out.append(TSOSpectra(
                spectral={c: table[c].astype(t) for c, t in SPEC_COLUMNS}, int_num=table["INT_NUM"],
                n_alongdisp=table["N_ALONGDISP"], segment=table["SEGMENT"], mjd_beg=table["MJD-BEG"],
                mjd_avg=table["MJD-AVG"], mjd_end=table["MJD-END"], tdb_beg=table["TDB-BEG"],
                tdb_mid=table["TDB-MID"], tdb_end=table["TDB-END"], meta=_meta_from(hdu.header, _calibrated(hdu))))
        int_times = np.array(hdul["INT_TIMES"].data) if "INT_TIMES" in hdul else None
        return SpectraProduct(hdul[0].header.copy(), tuple(out), int_times)


# ------------------------------------------------------------------------------ WFSS x1d

_WFSS_KEYWORDS = {"spectral_order": "SPORDER", "group_id": "EXPGRPID", "filename": "FILENAME",
                  "dispersion_direction": "DISPAXIS", "exposure_time": "EFFEXPTM", "integration_time": "EFFINTTM"}


def _wfss_hdu(group: WFSSSpectra, index: int) -> fits.BinTableHDU:
    units = spectral_units(group.calibrated)
    units.update({"SOURCE_XPOS": "pix", "SOURCE_YPOS": "pix", "SOURCE_RA": "deg", "SOURCE_DEC": "deg",
                  "EXTRACT2D_XSTART": "pix", "EXTRACT2D_YSTART": "pix", "EXTRACT2D_XSTOP": "pix",
                  "EXTRACT2D_YSTOP": "pix"})
    cols = [_scalar_column("SOURCE_ID", "i4", group.source_id)] + _vector_columns(group.spectral, units)
    for name, dtype in WFSS_EXTRA_COLUMNS:
        cols.append(_scalar_column(name, dtype, getattr(group, name.lower()), units.get(name)))
    hdu = fits.BinTableHDU.from_columns(cols, name="EXTRACT1D", ver=index)
    for name, keyword in _WFSS_KEYWORDS.items():
        _set(hdu.header, keyword, getattr(group, name))
    return hdu


def write_wfss_x1d(path: str | Path, header: fits.Header, groups: Sequence[WFSSSpectra],
                   provenance: Provenance | None = None) -> Path:
    """Write a WFSS ``_x1d`` (WFSSMultiSpecModel, jwst >= 1.19): one EXTRACT1D table per
    exposure and order (EXPGRPID), one row per source."""
    if not groups:
        raise ValueError("write_wfss_x1d: no spectra")
    hdus = [_primary(header, "WFSSMultiSpecModel", provenance)]
    hdus += [_wfss_hdu(g, i) for i, g in enumerate(groups, start=1)]
    return atomic_write(_finish(hdus, provenance), path)


def read_wfss_x1d(path: str | Path) -> SpectraProduct:
    """Read a WFSS ``_x1d`` back: a :class:`WFSSSpectra` per EXTRACT1D table."""
    out = []
    with open_fits(path) as hdul:
        for hdu in hdul:
            if hdu.name != "EXTRACT1D":
                continue
            t = _read_table(hdu)
            h = hdu.header
            out.append(WFSSSpectra(
                spectral={c: t[c].astype(d) for c, d in SPEC_COLUMNS}, source_id=t["SOURCE_ID"],
                n_alongdisp=t["N_ALONGDISP"], source_type=tuple(str(s).strip() for s in t["SOURCE_TYPE"]),
                source_xpos=t["SOURCE_XPOS"], source_ypos=t["SOURCE_YPOS"], source_ra=t["SOURCE_RA"],
                source_dec=t["SOURCE_DEC"], extract2d_xstart=t["EXTRACT2D_XSTART"],
                extract2d_ystart=t["EXTRACT2D_YSTART"], extract2d_xstop=t["EXTRACT2D_XSTOP"],
                extract2d_ystop=t["EXTRACT2D_YSTOP"], spectral_order=int(h["SPORDER"]), group_id=str(h["EXPGRPID"]),
                filename=str(h.get("FILENAME", "")), dispersion_direction=int(h["DISPAXIS"]),
                exposure_time=h.get("EFFEXPTM"), integration_time=h.get("EFFINTTM"), calibrated=_calibrated(hdu)))
        return SpectraProduct(hdul[0].header.copy(), tuple(out))


# ------------------------------------------------------------------------------------ c1d

def _c1d_hdu(spectrum: CombinedSpectrum, index: int) -> fits.BinTableHDU:
    units = spectral_units(spectrum.calibrated)
    rec = np.rec.fromarrays([spectrum.column(c).astype(t) for c, t in COMBINED_COLUMNS],
                            dtype=[(c, t) for c, t in COMBINED_COLUMNS])
    hdu = fits.BinTableHDU(rec, name="COMBINE1D", ver=index)
    for i, (name, _) in enumerate(COMBINED_COLUMNS, start=1):
        if name in units:
            hdu.header[f"TUNIT{i}"] = units[name]
    for name, keyword in (("source_id", "SOURCEID"), ("source_type", "SRCTYPE"), ("spectral_order", "SPORDER"),
                          ("dispersion_direction", "DISPAXIS")):
        _set(hdu.header, keyword, getattr(spectrum, name))
    return hdu


def write_c1d(path: str | Path, header: fits.Header, spectra: Sequence[CombinedSpectrum],
              provenance: Provenance | None = None) -> Path:
    """Write a ``_c1d`` as jwst 3.0's combine_1d does (MultiCombinedSpecModel): one COMBINE1D
    table per spectral order."""
    if not spectra:
        raise ValueError("write_c1d: no spectra")
    hdus = [_primary(header, "MultiCombinedSpecModel", provenance)]
    hdus += [_c1d_hdu(s, i) for i, s in enumerate(spectra, start=1)]
    return atomic_write(_finish(hdus, provenance), path)


def read_c1d(path: str | Path) -> SpectraProduct:
    """Read a ``_c1d`` back: a :class:`CombinedSpectrum` per COMBINE1D table."""
    out = []
    with open_fits(path) as hdul:
        for hdu in hdul:
            if hdu.name != "COMBINE1D":
                continue
            t = _read_table(hdu)
            h = hdu.header
            out.append(CombinedSpectrum(**{c.lower(): t[c].astype(d) for c, d in COMBINED_COLUMNS},
                                        source_id=h.get("SOURCEID"), source_type=h.get("SRCTYPE"),
                                        spectral_order=h.get("SPORDER"), dispersion_direction=h.get("DISPAXIS"),
                                        calibrated=_calibrated(hdu)))
        return SpectraProduct(hdul[0].header.copy(), tuple(out))


# --------------------------------------------------------------------- slits (2-D spectra)

def _slit_hdus(slit: SlitImage, ver: int) -> list[fits.ImageHDU]:
    sci_header = _clean_image_header(slit.sci_header)
    for name, keyword in SLIT_KEYWORDS.items():
        _set(sci_header, keyword, getattr(slit, name))
    sci_header["BUNIT"] = slit.bunit
    hdus = [fits.ImageHDU(slit.data.astype(np.float32, copy=False), header=sci_header, name="SCI", ver=ver),
            fits.ImageHDU(slit.err.astype(np.float32, copy=False), name="ERR", ver=ver),
            fits.ImageHDU(slit.dq.astype(np.uint32, copy=False), name="DQ", ver=ver)]
    hdus[1].header["BUNIT"] = slit.bunit
    for attr, extname in SLIT_ARRAYS.items():
        array = getattr(slit, attr)
        if array is not None:
            hdu = fits.ImageHDU(array.astype(np.float32, copy=False), name=extname, ver=ver)
            if attr.startswith("var_"):
                hdu.header["BUNIT"] = f"({slit.bunit})**2"
            elif attr == "wavelength":
                hdu.header["BUNIT"] = "um"
            hdus.append(hdu)
    return hdus


def write_slit(path: str | Path, header: fits.Header, slit: SlitImage,
               provenance: Provenance | None = None, int_times: np.ndarray | None = None) -> Path:
    """Write a SlitModel (``_cal``/``_calints`` of MIRI LRS, an ``_s2d``): SCI (with the slit
    keywords), ERR, DQ, VAR_*, WAVELENGTH, PATHLOSS_* when present; 2-D or 3-D; the gwcs in
    the ASDF extension."""
    hdus: list = [_primary(header, "SlitModel", provenance)] + _slit_hdus(slit, 1)
    if int_times is not None:
        hdus.append(fits.BinTableHDU(int_times, name="INT_TIMES"))
    return atomic_write(_finish(hdus, provenance, wcs=slit.wcs), path)


def write_multislit(path: str | Path, header: fits.Header, slits: Sequence[SlitImage],
                    provenance: Provenance | None = None) -> Path:
    """Write a MultiSlitModel (NIRSpec/WFSS ``_cal``): one SCI/ERR/DQ/VAR_*/WAVELENGTH set per
    slit (EXTVER 1..n) with SLTNAME, SOURCEID, SLTSTRT1/2, SLTSIZE1/2 ...; each slit's gwcs at
    ``slits[i].meta.wcs`` of the ASDF tree."""
    if not slits:
        raise ValueError("write_multislit: no slits")
    hdus: list = [_primary(header, "MultiSlitModel", provenance)]
    for ver, slit in enumerate(slits, start=1):
        hdus += _slit_hdus(slit, ver)
    return atomic_write(_finish(hdus, provenance, slit_wcs=[s.wcs for s in slits]), path)


def _slit_from(path: Path, hdul: fits.HDUList, ver: int, wcs) -> SlitImage:
    sci = hdul["SCI", ver]
    header = sci.header
    arrays = {attr: np.array(hdul[extname, ver].data) for attr, extname in SLIT_ARRAYS.items()
              if (extname, ver) in hdul}
    keys = {}
    for name, keyword in SLIT_KEYWORDS.items():
        value = header.get(keyword)
        keys[name] = None if isinstance(value, fits.card.Undefined) else value
    extra = _clean_image_header(header)
    for keyword in (*SLIT_KEYWORDS.values(), "BUNIT", "EXTNAME", "EXTVER"):
        extra.remove(keyword, ignore_missing=True, remove_all=True)
    return SlitImage(data=np.array(sci.data), err=np.array(hdul["ERR", ver].data),
                     dq=np.array(hdul["DQ", ver].data).astype(np.uint32), bunit=str(header.get("BUNIT", "MJy/sr")),
                     sci_header=extra, wcs=wcs, **arrays, **keys)


def read_slit(path: str | Path) -> SlitProduct:
    """Read a SlitModel file back (one :class:`SlitImage`, its gwcs when the file has one)."""
    path = Path(path)
    with open_fits(path) as hdul:
        return SlitProduct(hdul[0].header.copy(), (_slit_from(path, hdul, 1, wcs_from_hdulist(path, hdul)),))


def read_multislit(path: str | Path) -> SlitProduct:
    """Read a MultiSlitModel file back: a :class:`SlitImage` per SCI extension, each with its
    gwcs from the ASDF tree."""
    path = Path(path)
    with open_fits(path) as hdul:
        versions = [h.ver for h in hdul if h.name == "SCI"]
        wcs = _slit_wcs(hdul, len(versions))
        slits = tuple(_slit_from(path, hdul, ver, w) for ver, w in zip(versions, wcs))
        return SlitProduct(hdul[0].header.copy(), slits)


def _slit_wcs(hdul: fits.HDUList, count: int) -> list:
    if "ASDF" not in hdul:
        return [None] * count
    import asdf

    raw = np.asarray(hdul["ASDF"].data["ASDF_METADATA"][0], dtype=np.uint8).tobytes()
    with asdf.open(_io.BytesIO(raw), lazy_load=False, memmap=False) as af:
        slits = af.tree.get("slits", [])
        out = [s.get("meta", {}).get("wcs") if isinstance(s, dict) else None for s in slits]
    return (out + [None] * count)[:count]
