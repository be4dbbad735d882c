"""What a firing leaves on disk: its ASN JSON under the products directory, ready for stage 3."""

from __future__ import annotations

import copy
from pathlib import Path, PurePath

from .asn import write_asn
from .buffer import Firing, exposure_root

__all__ = ["write_firing_asn"]


def write_firing_asn(firing: Firing, products_dir: str | Path) -> Path:
    """Write ``<products_dir>/<product>_asn.json`` for a firing (atomically) and return its path.

    Science members are named by their ``_cal`` files, which sit in ``products_dir``; a
    partial firing of an ASN file keeps the members still missing listed (by the ``_cal``
    name they will have), so stage 3 names them in the product; each science member's
    tweakreg catalog made with its ``_cal`` is attached when it exists.

    Parameters
    ----------
    firing : Firing
        What the association buffer (or store) fired.
    products_dir : str or Path
        The products directory.
    """
    # image3 pulls in photutils and drizzle: only a firing that is written needs them
    from ..pipelines.image3 import attach_tweakreg_catalogs

    asn = copy.deepcopy(firing.asn)
    if firing.partial and firing.declared_members:
        asn["products"][0]["members"] = copy.deepcopy(list(firing.declared_members))
    by_root = {exposure_root(p): PurePath(p).name for p in firing.members}
    for member in asn["products"][0]["members"]:
        if member["exptype"].lower() == "science":
            root = exposure_root(member["expname"])
            member["expname"] = by_root.get(root, f"{root}_cal.fits")
    attach_tweakreg_catalogs(asn, products_dir)
    return write_asn(asn, Path(products_dir) / f"{firing.product}_asn.json")
