"""In-memory spectra: the rows of jwst's ``x1d``/``x1dints``/WFSS ``x1d``/``c1d`` tables.

Column names, order, types and units are facts of the stdatamodels 6.0 schemas
(``spectable``, ``tso_spectable``, ``wfss_spectable``, ``combinedspectable``); tests compare
them with an installed stdatamodels.  Every spectral column is float64 except DQ (uint32, the
pixel DQ bits of jwst: DO_NOT_USE where FLUX is NaN).

- :class:`Spectrum`: one spectrum, 1-D arrays of one length (one EXTRACT1D row per sample).
- :class:`TSOSpectra`: one spectrum per integration, 2-D arrays ``(n_int, n_wave)`` -- jwst
  1.19+'s TSOMultiSpecModel (one row per integration, vector columns).
- :class:`WFSSSpectra`: one spectrum per source of one exposure and order, 2-D arrays
  ``(n_source, n_wave)`` NaN-padded to the longest trace -- jwst 1.19+'s WFSSMultiSpecModel.
- :class:`CombinedSpectrum`: the ``c1d`` of :mod:`streamcal.steps.combine_1d`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

__all__ = ["SPEC_COLUMNS", "TSO_EXTRA_COLUMNS", "WFSS_EXTRA_COLUMNS", "COMBINED_COLUMNS", "SpectrumMeta",
           "Spectrum", "TSOSpectra", "WFSSSpectra", "CombinedSpectrum", "spectral_units"]

#: The 18 spectral columns of an x1d table (FITS name, dtype), schema order.
SPEC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("WAVELENGTH", "f8"), ("FLUX", "f8"), ("FLUX_ERROR", "f8"), ("FLUX_VAR_POISSON", "f8"),
    ("FLUX_VAR_RNOISE", "f8"), ("FLUX_VAR_FLAT", "f8"), ("SURF_BRIGHT", "f8"), ("SB_ERROR", "f8"),
    ("SB_VAR_POISSON", "f8"), ("SB_VAR_RNOISE", "f8"), ("SB_VAR_FLAT", "f8"), ("DQ", "u4"),
    ("BACKGROUND", "f8"), ("BKGD_ERROR", "f8"), ("BKGD_VAR_POISSON", "f8"), ("BKGD_VAR_RNOISE", "f8"),
    ("BKGD_VAR_FLAT", "f8"), ("NPIXELS", "f8"))
#: Scalar (per-row) columns of a TSOMultiSpecModel table after the spectral vectors (INT_NUM first).
TSO_EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("N_ALONGDISP", "u4"), ("SEGMENT", "i4"), ("MJD-BEG", "f8"), ("MJD-AVG", "f8"), ("MJD-END", "f8"),
    ("TDB-BEG", "f8"), ("TDB-MID", "f8"), ("TDB-END", "f8"))
#: Scalar columns of a WFSSMultiSpecModel table after the spectral vectors (SOURCE_ID first).
WFSS_EXTRA_COLUMNS: tuple[tuple[str, str], ...] = (
    ("N_ALONGDISP", "u4"), ("SOURCE_TYPE", "S20"), ("SOURCE_XPOS", "f8"), ("SOURCE_YPOS", "f8"),
    ("SOURCE_RA", "f8"), ("SOURCE_DEC", "f8"), ("EXTRACT2D_XSTART", "u4"), ("EXTRACT2D_YSTART", "u4"),
    ("EXTRACT2D_XSTOP", "u4"), ("EXTRACT2D_YSTOP", "u4"))
#: Columns of a c1d COMBINE1D table.
COMBINED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("WAVELENGTH", "f8"), ("FLUX", "f8"), ("ERROR", "f8"), ("SURF_BRIGHT", "f8"), ("SB_ERROR", "f8"),
    ("DQ", "u4"), ("WEIGHT", "f8"), ("N_INPUT", "f8"))


def spectral_units(calibrated: bool = True) -> dict[str, str]:
    """Units of the spectral columns as jwst writes them: Jy and MJy/sr after photom, DN/s
    before (``calibrated=False``); NPIXELS and DQ have none."""
    flux, sb = ("Jy", "MJy/sr") if calibrated else ("DN/s", "DN/s")
    fvar, sbvar = ("Jy^2", "MJy^2 / sr^2") if calibrated else ("DN^2 / s^2", "DN^2 / s^2")
    units = {"WAVELENGTH": "um", "FLUX": flux, "FLUX_ERROR": flux, "SURF_BRIGHT": sb, "SB_ERROR": sb,
             "BACKGROUND": sb, "BKGD_ERROR": sb, "ERROR": flux}
    for prefix, unit in (("FLUX_VAR_", fvar), ("SB_VAR_", sbvar), ("BKGD_VAR_", sbvar)):
        units.update({f"{prefix}{kind}": unit for kind in ("POISSON", "RNOISE", "FLAT")})
    return units


def _attr(column: str) -> str:
    return column.lower().replace("-", "_")


@dataclass(frozen=True)
class SpectrumMeta:
    """What an EXTRACT1D header says of its spectrum (None: keyword not written).

    ``extraction_*`` are the extraction window, 1-based and inclusive as jwst writes
    EXTRXSTR/EXTRXSTP/EXTRYSTR/EXTRYSTP (fractional for a fractional aperture)."""

    name: str | None = None
    source_id: int | None = None
    source_name: str | None = None
    source_type: str | None = None
    spectral_order: int | None = None
    dispersion_direction: int | None = None
    detector: str | None = None
    slit_ra: float | None = None
    slit_dec: float | None = None
    source_ra: float | None = None
    source_dec: float | None = None
    source_xpos: float | None = None
    source_ypos: float | None = None
    position_angle: float | None = None
    extraction_xstart: float | None = None
    extraction_xstop: float | None = None
    extraction_ystart: float | None = None
    extraction_ystop: float | None = None
    calibrated: bool = True


#: SpectrumMeta field -> EXTRACT1D keyword (stdatamodels' specmeta schema).
SPEC_KEYWORDS: Mapping[str, str] = {
    "name": "SLTNAME", "source_id": "SOURCEID", "source_name": "SRCNAME", "source_type": "SRCTYPE",
    "spectral_order": "SPORDER", "dispersion_direction": "DISPAXIS", "detector": "DETECTOR",
    "slit_ra": "SLIT_RA", "slit_dec": "SLIT_DEC", "source_ra": "SRCRA", "source_dec": "SRCDEC",
    "source_xpos": "SRCXPOS", "source_ypos": "SRCYPOS", "position_angle": "PA_APER",
    "extraction_xstart": "EXTRXSTR", "extraction_xstop": "EXTRXSTP", "extraction_ystart": "EXTRYSTR",
    "extraction_ystop": "EXTRYSTP"}


def _check_shapes(obj, names: tuple[str, ...], ndim: int) -> None:
    shapes = {getattr(obj, name).shape for name in names}
    if len(shapes) != 1 or len(next(iter(shapes))) != ndim:
        raise ValueError(f"{type(obj).__name__}: columns must be {ndim}-D arrays of one shape, got {sorted(shapes)}")


@dataclass(frozen=True)
class Spectrum:
    """One extracted spectrum: equal-length 1-D arrays (one per x1d column, lower-case names).

    Units (after photom): wavelength µm; flux, flux_error Jy, flux_var_* Jy²; surf_bright,
    sb_error, background, bkgd_error MJy/sr, their variances (MJy/sr)²; npixels the summed
    aperture weights (pixels); dq uint32 pixel DQ bits."""

    wavelength: np.ndarray
    flux: np.ndarray
    flux_error: np.ndarray
    flux_var_poisson: np.ndarray
    flux_var_rnoise: np.ndarray
    flux_var_flat: np.ndarray
    surf_bright: np.ndarray
    sb_error: np.ndarray
    sb_var_poisson: np.ndarray
    sb_var_rnoise: np.ndarray
    sb_var_flat: np.ndarray
    dq: np.ndarray
    background: np.ndarray
    bkgd_error: np.ndarray
    bkgd_var_poisson: np.ndarray
    bkgd_var_rnoise: np.ndarray
    bkgd_var_flat: np.ndarray
    npixels: np.ndarray
    meta: SpectrumMeta = field(default_factory=SpectrumMeta)

    def __post_init__(self):
        _check_shapes(self, tuple(_attr(c) for c, _ in SPEC_COLUMNS), 1)

    @property
    def size(self) -> int:
        return int(self.wavelength.size)

    def column(self, name: str) -> np.ndarray:
        """The array of FITS column ``name`` (e.g. ``"FLUX_VAR_POISSON"``)."""
        return getattr(self, _attr(name))

    @classmethod
    def from_columns(cls, columns: Mapping[str, np.ndarray], meta: SpectrumMeta | None = None) -> "Spectrum":
        """From FITS-named columns (every column of :data:`SPEC_COLUMNS`)."""
        return cls(**{_attr(c): np.asarray(columns[c], dtype=t) for c, t in SPEC_COLUMNS},
                   meta=meta or SpectrumMeta())


@dataclass(frozen=True)
class TSOSpectra:
    """Per-integration spectra of one slit/order: the spectral columns as ``(n_int, n_wave)``
    arrays (same units as :class:`Spectrum`) and per-integration scalars: ``int_num``
    (1-based), ``n_alongdisp`` (valid samples of each row), ``segment``, the integration's
    start/mid/end in MJD UTC (``mjd_beg/avg/end``) and TDB (``tdb_*``; NaN when unknown)."""

    spectral: Mapping[str, np.ndarray]
    int_num: np.ndarray
    n_alongdisp: np.ndarray
    segment: np.ndarray
    mjd_beg: np.ndarray
    mjd_avg: np.ndarray
    mjd_end: np.ndarray
    tdb_beg: np.ndarray
    tdb_mid: np.ndarray
    tdb_end: np.ndarray
    meta: SpectrumMeta = field(default_factory=SpectrumMeta)

    def __post_init__(self):
        missing = [c for c, _ in SPEC_COLUMNS if c not in self.spectral]
        if missing:
            raise ValueError(f"TSOSpectra: missing columns {missing}")
        shapes = {np.shape(self.spectral[c]) for c, _ in SPEC_COLUMNS}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(f"TSOSpectra: spectral columns must be 2-D of one shape, got {sorted(shapes)}")
        nint = next(iter(shapes))[0]
        for name in ("int_num", "n_alongdisp", "segment", "mjd_beg", "mjd_avg", "mjd_end", "tdb_beg",
                     "tdb_mid", "tdb_end"):
            if np.shape(getattr(self, name)) != (nint,):
                raise ValueError(f"TSOSpectra: {name} must have {nint} entries")

    @property
    def n_int(self) -> int:
        return int(self.int_num.size)

    @classmethod
    def from_spectra(cls, spectra: "list[Spectrum] | tuple[Spectrum, ...]", int_num: np.ndarray,
                     times: Mapping[str, np.ndarray] | None = None, segment: int = 0) -> "TSOSpectra":
        """Stack per-integration spectra (the same length each, as jwst's box extraction gives
        for one aperture) with their 1-based ``int_num`` and optional ``times`` (keys
        ``mjd_beg/mjd_avg/mjd_end/tdb_beg/tdb_mid/tdb_end``, NaN for the missing ones)."""
        nint = len(spectra)
        if nint == 0:
            raise ValueError("TSOSpectra.from_spectra: no spectra")
        stacked = {c: np.stack([s.column(c) for s in spectra]).astype(t) for c, t in SPEC_COLUMNS}
        times = dict(times or {})
        nan = np.full(nint, np.nan)
        kw = {k: np.asarray(times.get(k, nan), dtype=float) for k in
              ("mjd_beg", "mjd_avg", "mjd_end", "tdb_beg", "tdb_mid", "tdb_end")}
        n_along = np.isfinite(stacked["WAVELENGTH"]).sum(axis=1).astype(np.uint32)
        return cls(spectral=stacked, int_num=np.asarray(int_num, dtype=np.int32), n_alongdisp=n_along,
                   segment=np.full(nint, segment, np.int32), meta=spectra[0].meta, **kw)

    def integration(self, index: int) -> Spectrum:
        """Row ``index`` (0-based) as a :class:`Spectrum`."""
        return Spectrum.from_columns({c: self.spectral[c][index] for c, _ in SPEC_COLUMNS}, self.meta)


@dataclass(frozen=True)
class WFSSSpectra:
    """The spectra of every source of one WFSS exposure and spectral order: spectral columns
    ``(n_source, n_wave)`` NaN-padded past each source's ``n_alongdisp`` samples, and per-source
    ``source_id``, ``source_type`` (str), positions (pixels, degrees) and the extract_2d cutout
    (0-based start, exclusive stop, as jwst writes EXTRACT2D_*).  ``group_id`` is jwst's
    EXPGRPID (exposure root + ``_`` + order), ``filename`` the exposure."""

    spectral: Mapping[str, np.ndarray]
    source_id: np.ndarray
    n_alongdisp: np.ndarray
    source_type: tuple[str, ...]
    source_xpos: np.ndarray
    source_ypos: np.ndarray
    source_ra: np.ndarray
    source_dec: np.ndarray
    extract2d_xstart: np.ndarray
    extract2d_ystart: np.ndarray
    extract2d_xstop: np.ndarray
    extract2d_ystop: np.ndarray
    spectral_order: int
    group_id: str
    filename: str
    dispersion_direction: int
    exposure_time: float | None = None
    integration_time: float | None = None
    calibrated: bool = True

    def __post_init__(self):
        shapes = {np.shape(self.spectral[c]) for c, _ in SPEC_COLUMNS}
        if len(shapes) != 1 or len(next(iter(shapes))) != 2:
            raise ValueError(f"WFSSSpectra: spectral columns must be 2-D of one shape, got {sorted(shapes)}")
        nsrc = next(iter(shapes))[0]
        if len(self.source_type) != nsrc or np.shape(self.source_id) != (nsrc,):
            raise ValueError(f"WFSSSpectra: per-source columns must have {nsrc} entries")

    @classmethod
    def from_spectra(cls, spectra: "list[Spectrum] | tuple[Spectrum, ...]", *, spectral_order: int,
                     group_id: str, filename: str, dispersion_direction: int,
                     cutouts: "list[tuple[int, int, int, int]]", exposure_time: float | None = None,
                     integration_time: float | None = None) -> "WFSSSpectra":
        """One row per source from per-source spectra of any lengths (NaN-padded; DQ 0 and
        NPIXELS 0 in the padding) and their cutouts ``(xstart, ystart, xstop, ystop)``."""
        if not spectra:
            raise ValueError("WFSSSpectra.from_spectra: no spectra")
        width = max(s.size for s in spectra)
        stacked = {}
        for c, t in SPEC_COLUMNS:
            fill = 0 if c in ("DQ", "NPIXELS") else np.nan
            out = np.full((len(spectra), width), fill, dtype=t)
            for i, s in enumerate(spectra):
                out[i, :s.size] = s.column(c)
            stacked[c] = out
        meta = [s.meta for s in spectra]
        def vals(name, dtype=float):
            return np.array([np.nan if getattr(m, name) is None else getattr(m, name) for m in meta], dtype)
        cut = np.asarray(cutouts, dtype=np.uint32).reshape(len(spectra), 4)
        return cls(spectral=stacked, source_id=np.array([m.source_id or 0 for m in meta], np.int32),
                   n_alongdisp=np.array([s.size for s in spectra], np.uint32),
                   source_type=tuple(m.source_type or "" for m in meta),
                   source_xpos=vals("source_xpos"), source_ypos=vals("source_ypos"),
                   source_ra=vals("source_ra"), source_dec=vals("source_dec"),
                   extract2d_xstart=cut[:, 0], extract2d_ystart=cut[:, 1], extract2d_xstop=cut[:, 2],
                   extract2d_ystop=cut[:, 3], spectral_order=spectral_order, group_id=group_id,
                   filename=filename, dispersion_direction=dispersion_direction, exposure_time=exposure_time,
                   integration_time=integration_time, calibrated=spectra[0].meta.calibrated)

    def source(self, index: int) -> Spectrum:
        """Row ``index`` without its padding, as a :class:`Spectrum`."""
        n = int(self.n_alongdisp[index])
        meta = SpectrumMeta(source_id=int(self.source_id[index]), source_type=self.source_type[index] or None,
                            spectral_order=self.spectral_order, dispersion_direction=self.dispersion_direction,
                            source_xpos=float(self.source_xpos[index]), source_ypos=float(self.source_ypos[index]),
                            source_ra=float(self.source_ra[index]), source_dec=float(self.source_dec[index]),
                            calibrated=self.calibrated)
        return Spectrum.from_columns({c: self.spectral[c][index, :n] for c, _ in SPEC_COLUMNS}, meta)


@dataclass(frozen=True)
class CombinedSpectrum:
    """A combined (``c1d``) spectrum: wavelength µm, flux/error Jy, surf_bright/sb_error MJy/sr,
    dq uint32, weight (sum of the input weights), n_input (number of input samples)."""

    wavelength: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    surf_bright: np.ndarray
    sb_error: np.ndarray
    dq: np.ndarray
    weight: np.ndarray
    n_input: np.ndarray
    source_id: int | None = None
    source_type: str | None = None
    spectral_order: int | None = None
    dispersion_direction: int | None = None
    calibrated: bool = True

    def __post_init__(self):
        _check_shapes(self, tuple(_attr(c) for c, _ in COMBINED_COLUMNS), 1)

    def column(self, name: str) -> np.ndarray:
        return getattr(self, _attr(name))
