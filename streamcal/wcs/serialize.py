"""A gwcs as ASDF bytes and back, in the tree layout of jwst products.

jwst (stdatamodels) keeps a product's metadata tree in the ``ASDF`` extension of the FITS file
and its gwcs at ``meta.wcs`` there; :mod:`streamcal.fitsio` stores these bytes in that
extension, so ``stdatamodels.jwst.datamodels.open(path).meta.wcs`` is the WCS.  Reading
accepts any jwst tree: one whose ``meta`` holds no WCS (every ``_rate``, every product
stdatamodels writes before assign_wcs) gives None, not an error.
"""

from __future__ import annotations

import io

import asdf
import yaml
from asdf.tagged import TaggedDict
from gwcs import WCS

__all__ = ["wcs_to_asdf_bytes", "tree_to_asdf_bytes", "wcs_from_asdf_bytes", "asdf_tree_wcs"]


def wcs_to_asdf_bytes(wcs: WCS) -> bytes:
    """The WCS as a small ASDF file with jwst's tree layout (``{"meta": {"wcs": wcs}}``), in
    memory."""
    return tree_to_asdf_bytes({}, wcs)


def tree_to_asdf_bytes(tree: dict, wcs: WCS | None = None) -> bytes:
    """A product's metadata tree (:func:`streamcal.jwst_meta.metadata_tree`), with ``wcs`` at
    ``meta.wcs`` when given, as an ASDF file in memory.  ``tree`` is not modified.

    A tree without a WCS holds only plain values and tagged mappings (references to the FITS
    arrays), and is emitted directly as the YAML document of an ASDF file (~0.5 ms); asdf's own
    writer validates every tree against its schemas (~7 ms a product), which stage 1's small
    exposures felt.  The two give the same tree on reading (tested)."""
    if wcs is None:
        return plain_tree_to_asdf_bytes(tree)
    tree = {**tree, "meta": {**tree.get("meta", {}), "wcs": wcs}}
    buffer = io.BytesIO()
    asdf.AsdfFile(tree).write_to(buffer)
    return buffer.getvalue()


_ASDF_TAG_PREFIX = "tag:stsci.edu:asdf/"
_ASDF_HEADER = b"#ASDF 1.0.0\n#ASDF_STANDARD 1.6.0\n"


class _PlainTreeDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """YAML of a tree of plain values and :class:`asdf.tagged.TaggedDict` nodes."""


_PlainTreeDumper.add_representer(TaggedDict, lambda dumper, node: dumper.represent_mapping(node._tag, dict(node)))


def plain_tree_to_asdf_bytes(tree: dict) -> bytes:
    """An ASDF file (header and YAML tree, no binary blocks) holding ``tree``: dicts, lists,
    strings, numbers, booleans and tagged mappings only."""
    body = yaml.dump_all([TaggedDict(tree, f"{_ASDF_TAG_PREFIX}core/asdf-1.1.0")], Dumper=_PlainTreeDumper,
                         explicit_start=True, explicit_end=True, version=(1, 1),
                         tags={"!": _ASDF_TAG_PREFIX}, sort_keys=False, width=100)
    return _ASDF_HEADER + body.encode()


def asdf_tree_wcs(data: bytes) -> WCS | None:
    """The gwcs of an ASDF extension's tree: ``meta.wcs`` (jwst's place), or a top-level
    ``wcs`` (streamcal files written before the jwst layout); None when the tree has neither.

    Raises
    ------
    ValueError
        The WCS node holds something other than a gwcs.
    Exception
        Whatever asdf/yaml raise on bytes that are not an ASDF file.
    """
    # lazy tree: only the WCS node is converted; jwst trees also hold nodes (FITS-array
    # references, tagged metadata) that nothing here reads
    with asdf.open(io.BytesIO(bytes(data)), lazy_load=False, memmap=False, lazy_tree=True) as af:
        tree = af.tree
        meta = tree.get("meta")
        wcs = meta.get("wcs") if hasattr(meta, "get") else None
        if wcs is None:
            wcs = tree.get("wcs")
    if wcs is not None and not isinstance(wcs, WCS):
        raise ValueError(f"the ASDF tree's WCS is a {type(wcs).__name__}, not a gwcs")
    return wcs


def wcs_from_asdf_bytes(data: bytes) -> WCS:
    """Like :func:`asdf_tree_wcs`, for bytes that must hold a WCS.

    Raises
    ------
    ValueError
        No WCS in the tree, or not a gwcs.
    """
    wcs = asdf_tree_wcs(data)
    if wcs is None:
        raise ValueError("no WCS in the ASDF tree (neither meta.wcs nor wcs)")
    return wcs
