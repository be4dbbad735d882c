"""A gwcs as ASDF bytes and back: jwst keeps a product's WCS in an ASDF extension of the FITS
file; :mod:`streamcal.fitsio` stores these bytes there."""

from __future__ import annotations

import io

import asdf
from gwcs import WCS


def wcs_to_asdf_bytes(wcs: WCS) -> bytes:
    """The WCS as a small ASDF file (tree ``{"wcs": wcs}``), in memory."""
    buffer = io.BytesIO()
    asdf.AsdfFile({"wcs": wcs}).write_to(buffer)
    return buffer.getvalue()


def wcs_from_asdf_bytes(data: bytes) -> WCS:
    """Inverse of :func:`wcs_to_asdf_bytes` (also reads a jwst ASDF extension's tree,
    whose WCS sits under ``meta.wcs``)."""
    # lazy tree: only the WCS node is converted (jwst trees hold other nodes we do not read)
    with asdf.open(io.BytesIO(bytes(data)), lazy_load=False, memmap=False, lazy_tree=True) as af:
        tree = af.tree
        wcs = tree["wcs"] if "wcs" in tree else (tree["meta"].get("wcs") if "meta" in tree else None)
    if not isinstance(wcs, WCS):
        raise ValueError(f"no WCS in the ASDF tree (found {type(wcs).__name__})")
    return wcs
