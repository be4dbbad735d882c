"""The in-memory form of one reference file, already cut to the exposure's subarray."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from astropy.io import fits


@dataclass
class RefData:
    """One reference file as a step sees it.

    Attributes
    ----------
    reftype : str
        CRDS reference type, lower case (``"saturation"``).
    path : str
        File it was read from (recorded in provenance as ``R_<TYPE>``).
    header : astropy.io.fits.Header
        Primary header.
    arrays : dict of str to ndarray
        Image extensions by EXTNAME (``"SCI"``, ``"DQ"``, ``"ERR"``, ``"COEFFS"``, ...), cut to the
        exposure's subarray on their last two axes when the file is larger.  ``"DQ"`` is
        translated to standard JWST bit values through the file's ``DQ_DEF``.
    tables : dict of str to ndarray
        Table extensions by EXTNAME, as numpy record arrays.
    tree : dict, optional
        ASDF reference files (distortion, filteroffset, ...): the file's tree, e.g.
        ``tree["model"]`` (an astropy.modeling transform) or ``tree["filters"]``; ``header``
        then holds the selection keywords taken from ``tree["meta"]``.  None for FITS files.
    table_headers : dict of str to astropy.io.fits.Header
        Headers of the table extensions by EXTNAME (the LRS PATHLOSS grid keywords live there).
    """

    reftype: str
    path: str
    header: fits.Header
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    tables: dict[str, np.ndarray] = field(default_factory=dict)
    tree: dict[str, Any] | None = None
    table_headers: dict[str, fits.Header] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]
