"""The association buffer of the stream: level-2 products in, stage-3 firings out.

:class:`AssociationStage` (no Ray) wraps :class:`streamcal.associations.AssociationBuffer`:
it reads each ``_cal`` header, writes the ASN JSON of every firing under the products
directory, remembers which ledger file each member is, and keeps its whole state in
``<products>/associations/buffer.json`` (written atomically after every change), so a
restarted service resumes it.  A firing stays *unacknowledged* (re-delivered by
:meth:`AssociationStage.pending`) until the driver has recorded it in the ledger: a crash
between the two loses no firing.  :class:`AssociationActor` is the Ray actor around it.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from pathlib import Path, PurePath

import ray

from ..router import Route

DONE, WAIT = "done", "waiting_association"
STATE_FILE = Path("associations") / "buffer.json"


def after_last_single_stage(route: Route) -> str:
    """The ledger state of an exposure after its last single-exposure stage: ``done`` without
    stage 3, else ``waiting_association``."""
    return DONE if route.stage3 is None else WAIT


def is_asn_name(path: str | os.PathLike) -> bool:
    """Association files are ``*_asn.json`` (jwst's naming)."""
    return PurePath(path).name.lower().endswith("_asn.json")


def _atomic_json(data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class AssociationStage:
    """See the module docstring.

    Parameters
    ----------
    products_dir : path
        Firings' ASN files go here (``<product>_asn.json``), the state under ``associations/``.
    late_member_timeout : float
        Seconds a candidate waits for missing members (from its first member) before firing
        partial.
    clock : callable
        Seconds since the epoch (wall clock: the state outlives the process).
    """

    def __init__(self, products_dir, late_member_timeout: float = 600.0, clock=time.time):
        from ..associations import AssociationBuffer

        self.products = Path(products_dir)
        self.state_path = self.products / STATE_FILE
        self.clock = clock
        self.file_ids: dict[str, int] = {}   # member path -> ledger file id
        self.unacked: dict[str, dict] = {}   # product -> firing not yet recorded by the driver
        if self.state_path.exists():
            state = json.loads(self.state_path.read_text())
            self.buffer = AssociationBuffer.from_dict(state["buffer"], clock)
            self.buffer.timeout = float(late_member_timeout)
            self.file_ids, self.unacked = state["file_ids"], state["unacked"]
        else:
            self.buffer = AssociationBuffer(late_member_timeout, clock)

    def _save(self) -> None:
        _atomic_json({"buffer": self.buffer.to_dict(), "file_ids": self.file_ids, "unacked": self.unacked},
                     self.state_path)

    def add_product(self, file_id: int, cal_path: str) -> list[dict]:
        """A member's level-2 product (``_cal``) is on disk; returns the firings not yet
        acknowledged (those it caused among them)."""
        from ..fitsio import read_header

        replaced = self.file_ids.get(str(cal_path), int(file_id)) != int(file_id)  # new content, same name
        self.file_ids[str(cal_path)] = int(file_id)
        return self._deliver(self.buffer.add(str(cal_path), read_header(cal_path), replaced=replaced))

    def add_asn(self, asn_path: str) -> list[dict]:
        """An ASN file landed: its members become the expected ones (raises AsnError if bad)."""
        from ..associations import read_asn

        return self._deliver(self.buffer.add_asn(read_asn(asn_path)))

    def expire(self) -> list[dict]:
        """Fire, partial, the candidates whose late-member timeout has passed."""
        return self._deliver(self.buffer.expire(self.clock()))

    def pending(self) -> list[dict]:
        """Firings made but not yet acknowledged (after a restart: deliver them again)."""
        return list(self.unacked.values())

    def ack(self, products: list[str]) -> None:
        """The driver recorded these firings in the ledger."""
        for product in products:
            self.unacked.pop(product, None)
        self._save()

    def _deliver(self, firings) -> list[dict]:
        """Write and remember new firings; return every unacknowledged one (a call Ray retried
        after a crash of this actor finds its firings already made: they come back this way)."""
        for firing in firings:
            made = self._write(firing)
            self.unacked[made["product"]] = made
        self._save()
        return list(self.unacked.values())

    def _write(self, firing) -> dict:
        """Write the firing's ASN (members named by their ``_cal`` files, beside it); a partial
        firing of a declared ASN keeps its missing members listed, so stage 3 names them."""
        from ..associations import write_asn
        from ..pipelines.image3 import attach_tweakreg_catalogs

        asn = copy.deepcopy(firing.asn)
        declared = self.buffer.declared.get(firing.product)
        if firing.partial and declared:
            asn["products"][0]["members"] = copy.deepcopy(declared["products"][0]["members"])
        by_root = {_root(p): Path(p).name for p in firing.members}
        for member in asn["products"][0]["members"]:
            if member["exptype"].lower() == "science":
                root = _root(member["expname"])
                member["expname"] = by_root.get(root, f"{root}_cal.fits")
        attach_tweakreg_catalogs(asn, self.products)
        path = write_asn(asn, self.products / f"{firing.product}_asn.json")
        return {"product": firing.product, "asn_path": str(path), "partial": bool(firing.partial),
                "members": list(firing.members),
                "member_ids": [self.file_ids[p] for p in firing.members if p in self.file_ids]}


def _root(name: str) -> str:
    from ..associations.buffer import exposure_root

    return exposure_root(name)


@ray.remote
class AssociationActor:
    """:class:`AssociationStage` in its own process (reads headers, writes ASN files and its
    state off the driver's loop)."""

    def __init__(self, products_dir: str, late_member_timeout: float):
        self.stage = AssociationStage(products_dir, late_member_timeout)

    def add_product(self, file_id: int, cal_path: str) -> list[dict]:
        return self.stage.add_product(file_id, cal_path)

    def add_asn(self, asn_path: str) -> list[dict]:
        return self.stage.add_asn(asn_path)

    def expire(self) -> list[dict]:
        return self.stage.expire()

    def pending(self) -> list[dict]:
        return self.stage.pending()

    def ack(self, products: list[str]) -> None:
        self.stage.ack(products)

    def close(self) -> None:
        pass
