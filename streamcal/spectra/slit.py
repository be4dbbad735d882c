"""A 2-D spectral image (jwst's SlitModel, one slit of a MultiSlitModel) in memory."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.io import fits

__all__ = ["SlitImage", "SLIT_KEYWORDS", "SLIT_ARRAYS"]

#: SlitImage field -> SCI-header keyword (stdatamodels' slitdata/slitmeta schemas).
SLIT_KEYWORDS = {"name": "SLTNAME", "source_id": "SOURCEID", "source_type": "SRCTYPE", "xstart": "SLTSTRT1",
                 "ystart": "SLTSTRT2", "xsize": "SLTSIZE1", "ysize": "SLTSIZE2",
                 "spectral_order": "SPORDER", "dispersion_direction": "DISPAXIS",
                 "source_xpos": "SRCXPOS", "source_ypos": "SRCYPOS", "source_ra": "SRCRA", "source_dec": "SRCDEC"}
#: Optional image extensions of a slit, field -> EXTNAME, in the order jwst writes them.
SLIT_ARRAYS = {"var_poisson": "VAR_POISSON", "var_rnoise": "VAR_RNOISE", "var_flat": "VAR_FLAT",
               "wavelength": "WAVELENGTH", "pathloss_point": "PATHLOSS_PS", "pathloss_uniform": "PATHLOSS_UN"}


@dataclass(frozen=True)
class SlitImage:
    """One slit's (or WFSS source cutout's, or the whole LRS frame's) calibrated arrays.

    ``data``/``err``/``var_*`` are 2-D ``(ny, nx)`` or 3-D ``(nint, ny, nx)`` (calints) in
    ``bunit`` (MJy/sr after photom); ``dq`` uint32 with jwst's pixel bits; ``wavelength`` µm
    (NaN off the trace), the last two axes of ``data``; ``pathloss_*`` the pathloss arrays
    when the pathloss step made them.  ``xstart``/``ystart`` are 1-based detector pixels of
    the cutout's first pixel (SLTSTRT1/2), ``xsize``/``ysize`` its size.  ``sci_header``
    holds any further SCI keywords (PIXAR_SR, WCS keywords ...); ``wcs`` the gwcs, written
    into the ASDF extension."""

    data: np.ndarray
    err: np.ndarray
    dq: np.ndarray
    name: str | None = None
    var_poisson: np.ndarray | None = None
    var_rnoise: np.ndarray | None = None
    var_flat: np.ndarray | None = None
    wavelength: np.ndarray | None = None
    pathloss_point: np.ndarray | None = None
    pathloss_uniform: np.ndarray | None = None
    source_id: int | None = None
    source_type: str | None = None
    xstart: int | None = None
    ystart: int | None = None
    xsize: int | None = None
    ysize: int | None = None
    spectral_order: int | None = None
    dispersion_direction: int | None = None
    source_xpos: float | None = None
    source_ypos: float | None = None
    source_ra: float | None = None
    source_dec: float | None = None
    bunit: str = "MJy/sr"
    sci_header: fits.Header = field(default_factory=fits.Header)
    wcs: Any = None

    def __post_init__(self):
        if self.data.ndim not in (2, 3):
            raise ValueError(f"SlitImage: data must be 2-D or 3-D, got {self.data.shape}")
        for name in ("err", "dq", "var_poisson", "var_rnoise", "var_flat"):
            array = getattr(self, name)
            if array is not None and array.shape != self.data.shape:
                raise ValueError(f"SlitImage: {name} {array.shape} differs from data {self.data.shape}")
        for name in ("wavelength", "pathloss_point", "pathloss_uniform"):
            array = getattr(self, name)
            if array is not None and array.shape[-2:] != self.data.shape[-2:]:
                raise ValueError(f"SlitImage: {name} {array.shape} does not match data {self.data.shape}")
