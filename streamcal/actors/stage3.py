"""The driver's side of stage 3: level-2 products to the association buffer actor, its firings
to the ledger and the image3 pool, ASN files from the landing directory, remakes.

Order of record (the ledger first, as everywhere in the service): an exposure is
``waiting_association`` in the ledger before the buffer hears of it; a firing is recorded
(:meth:`~streamcal.ledger.Ledger.fire_association`: association and its waiting members to
``stage3``) before its job is queued, and only then acknowledged to the buffer, which
re-delivers unacknowledged firings after a restart.  One job per product at a time: a remake
fired while the product is being made waits for that run to end.
"""

from __future__ import annotations

import time

import ray

from .. import router
from .association import DONE, WAIT, after_last_single_stage
from .pool import Job
from .worker import IMPLEMENTED


def level1_product(products: list, route: router.Route) -> str | None:
    """The stage-1 product stage 2 reads: ``_rateints`` for TSO, else ``_rate`` (either one
    when only it exists)."""
    by_suffix = {suffix: path for path, suffix, *_ in products}
    order = ("rateints", "rate") if route.tso else ("rate", "rateints")
    return next((by_suffix[s] for s in order if s in by_suffix), None)


def level2_product(products: list) -> str | None:
    """The ``_cal`` product an association collects."""
    return next((path for path, suffix, *_ in products if suffix == "cal"), None)


class Stage3:
    """Stage-3 bookkeeping of a :class:`~streamcal.actors.service.Service` (its ledger, pools,
    the association actor ``service.assoc``)."""

    def __init__(self, service):
        self.svc = service
        self.deferred: dict[str, dict] = {}  # product -> latest firing waiting for its running job

    # ---------------------------------------------------------------- after stage 2
    def state_after(self, route: router.Route) -> tuple[str, dict]:
        """Ledger state (and transition keywords) after the last single-exposure stage."""
        state = after_last_single_stage(route)
        if state == WAIT and route.stage3 not in IMPLEMENTED:
            return "failed", {"error": f"{route.stage3} is not implemented yet; nothing is passed through",
                              "check": "not_implemented"}
        return state, {}

    def add_member(self, file_id: int, cal_path: str | None) -> None:
        """A ``waiting_association`` exposure's ``_cal`` goes to the buffer; fire what it completes."""
        try:
            if cal_path is None:
                raise ValueError("stage 2 wrote no _cal product")
            firings = ray.get(self.svc.assoc.add_product.remote(file_id, cal_path))
        except Exception as exc:
            self.svc._ledger("transition", file_id, "failed", error=f"association buffer: {exc}",
                             check="association")
            return
        self.fire(firings)

    def asn_landed(self, file_id: int, path: str, state: str = "landed") -> None:
        """An ASN file landed (recorded as ``file_id``): its members become the expected ones
        of its products; the file itself is done (or quarantined when it is not usable)."""
        try:
            firings = ray.get(self.svc.assoc.add_asn.remote(path))
        except Exception as exc:
            self.svc._quarantine(file_id, path, "asn", f"association file not usable: {exc}", stage="associations")
            return
        ops = [] if state == "routed" else [(file_id, "transition", (file_id, "routed"), {"route": {"asn": True}})]
        self.svc._apply(ops + [(file_id, "transition", (file_id, "done"), {"stage": "associations"})])
        self.fire(firings)

    def expire(self) -> None:
        """Fire (partial) the candidates whose late-member timeout passed."""
        self.fire(ray.get(self.svc.assoc.expire.remote()))

    # ---------------------------------------------------------------- firings
    def fire(self, firings: list[dict]) -> None:
        """Record firings in the ledger, acknowledge them to the buffer, queue their jobs.  A
        firing of a product being made waits (unrecorded, unacknowledged) for that run to end."""
        pool = self.svc.pool(router.IMAGE3)
        free = []
        for firing in firings:
            if pool.has_association(firing["product"]):
                self.deferred[firing["product"]] = firing
            else:
                free.append(firing)
        if not free:
            return
        results = self.svc._apply([(None, "fire_association",
                                    (f["product"], f["asn_path"], router.IMAGE3, f["member_ids"], f["partial"]), {})
                                   for f in free])
        done = [f for f, res in zip(free, results) if "ok" in res]
        for f, res in zip(free, results):
            if "ok" not in res:
                self.svc.errors.append(f"{f['product']}: {res.get('error')}")
        ray.get(self.svc.assoc.ack.remote([f["product"] for f in done]))
        for firing in done:
            pool.enqueue(self._job(firing))

    def _job(self, firing: dict) -> Job:
        svc = self.svc
        ids = firing["member_ids"]
        return Job(max(ids) if ids else 0, firing["asn_path"], router.IMAGE3,
                   max((svc._landed_at.get(i, 0.0) for i in ids), default=time.time()) or time.time(),
                   association=firing["product"],
                   options={"allowed_roots": [str(svc.landing), str(svc.products)], "partial": firing["partial"]})

    def finished(self, product: str) -> None:
        """A job of ``product`` ended (made or failed): fire the remake that waited for it."""
        firing = self.deferred.pop(product, None)
        if firing is not None:
            self.fire([firing])

    # ---------------------------------------------------------------- restart
    def resume(self) -> None:
        """Associations the ledger shows being made are queued again; firings the buffer made
        but the ledger never recorded are delivered again."""
        pool = self.svc.pool(router.IMAGE3)
        for rec in ray.get(self.svc.ledger.associations.remote("stage3")):
            pool.enqueue(self._job({"product": rec["product"], "asn_path": rec["asn_path"],
                                    "partial": rec["partial"], "member_ids": rec["members"]}))
        self.fire(ray.get(self.svc.assoc.pending.remote()))


__all__ = ["DONE", "WAIT", "Stage3", "level1_product", "level2_product"]
