"""The ledger actor: the only writer of ``<products>/ledger.sqlite``, and of the sinks that go
with it (event log, product table, quarantine moves), so that every record is written by one
process in one order."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import ray

from ..ledger import Ledger

LEDGER_NAME = "ledger.sqlite"


def _stage_number(pipeline: str | None, route: dict) -> str | None:
    for key in ("stage1", "stage2", "stage3"):
        if pipeline and route.get(key) == pipeline:
            return key
    return None


def _plain(value):
    return dataclasses.asdict(value) if dataclasses.is_dataclass(value) else value


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's content, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@ray.remote
class LedgerActor:
    """Owns the :class:`~streamcal.ledger.Ledger` of a products directory.

    Every method commits before it returns, so the caller may hand work on once ``ray.get``
    returns.  Records come back as plain dicts.
    """

    def __init__(self, products_dir: str):
        from ..sinks import EventLog, ProductTable

        self.products = Path(products_dir)
        self.ledger = Ledger(self.products / LEDGER_NAME)
        self.events = EventLog(self.products / "events.jsonl")
        self.table = ProductTable(self.products / "products_table")
        self._pending: list | None = None  # event-log lines held back until the batch commits

    def _log(self, event: str, name: str, stage: str | None = None, **detail) -> None:
        if self._pending is not None:
            self._pending.append((event, name, stage, detail))
            return
        try:
            self.events.write(event, file=name, stage=stage,
                              detail={k: v for k, v in detail.items() if v is not None})
        except Exception:  # the event log is a convenience; the ledger is the record
            pass

    def record_landed(self, path: str, sha256: str, size: int) -> tuple[int, bool]:
        file_id, is_new = self.ledger.record_landed(path, sha256, size)
        self._log("landed" if is_new else "duplicate", Path(path).name, file_id=file_id, size=size, path=path)
        return file_id, is_new

    def transition(self, file_id: int, state: str, **kwargs) -> dict:
        rec = self.ledger.transition(file_id, state, **kwargs)
        event = {"stage1": "started", "stage2": "started", "stage3": "started", "done": "finished",
                 "waiting_association": "finished"}.get(state, state)
        self._log(event, rec.name, stage=rec.stage, file_id=file_id, state=state,
                  error=kwargs.get("error"), check=kwargs.get("check"))
        return _plain(rec)

    def start_attempt(self, file_id: int, stage: str | None = None) -> int:
        return self.ledger.start_attempt(file_id, stage)

    def record_products(self, file_id: int, products: list, stage: str | None,
                        seconds: float | None = None, flush: bool = True, node: str | None = None) -> int:
        """Record ``[[path, suffix], ...]`` (or ``[path, suffix, sha256]``, checksummed by the
        worker) written for a file (idempotent by path: a rerun adds no row), in the ledger, the
        event log (with the Ray ``node`` that made it) and the product table; returns how many
        are new."""
        rec = self.ledger.get(file_id)
        route = rec.route or {}
        new = 0
        for path, suffix, *sha in products:
            sha = sha[0] if sha else file_sha256(path)
            new += self.ledger.record_product(file_id, path, suffix, stage, sha)
            self._log("product", rec.name, stage=stage, file_id=file_id, product=str(path), suffix=suffix,
                      node=node)
            self.table.add({"file": rec.name, "product": str(path), "suffix": suffix,
                            "stage": _stage_number(stage, route), "pipeline": stage,
                            "exp_type": route.get("exp_type"), "sha256": sha,
                            "size": Path(path).stat().st_size, "seconds": seconds})
        if flush:
            self._flush_table()
        return new

    def _flush_table(self) -> None:
        try:
            self.table.flush()
        except Exception:  # the table is a view; the ledger is the record
            pass

    def fire_association(self, product: str, asn_path: str, pipeline: str, member_ids: list,
                         partial: bool) -> dict:
        rec = self.ledger.fire_association(product, asn_path, pipeline, member_ids, partial)
        self._log("fired", Path(asn_path).name, stage=pipeline, association=product, partial=partial,
                  members=rec["members"], runs=rec["runs"])
        return rec

    def start_association(self, product: str) -> int:
        return self.ledger.start_association(product)

    def end_association(self, product: str, state: str, error: str | None = None,
                        check: str | None = None) -> dict:
        rec = self.ledger.end_association(product, state, error=error, check=check)
        self._log("finished" if state == "done" else "failed", Path(rec["asn_path"]).name, stage=rec["pipeline"],
                  association=product, partial=rec["partial"], error=error, check=check)
        return rec

    def associations(self, state: str | None = None) -> list[dict]:
        return self.ledger.associations(state)

    def products(self, file_id: int) -> list[dict]:
        return [_plain(p) for p in self.ledger.products(file_id)]

    #: Methods :meth:`apply` may run.
    BATCHABLE = frozenset({"record_landed", "transition", "start_attempt", "record_products",
                           "fire_association", "start_association", "end_association"})

    def apply(self, ops: list) -> list:
        """Run several writes in one ledger transaction (one commit) and return their results.

        Parameters
        ----------
        ops : list of (group, method, args, kwargs)
            ``method`` one of :attr:`BATCHABLE`.  Ops run in order; when one raises, it alone is
            undone and the later ops of the same ``group`` are skipped (``group`` None: no group).

        Returns
        -------
        list of dict
            Per op ``{"ok": result}``, ``{"error": "Type: message", "type": "Type"}`` or
            ``{"skipped": True}``.  Everything reported ``ok`` is committed when this returns.
        """
        results: list = []
        failed: set = set()
        self._pending = []
        try:
            with self.ledger.batch():
                for group, method, args, kwargs in ops:
                    if method not in self.BATCHABLE:
                        raise ValueError(f"apply: {method!r} cannot be batched; allowed: {sorted(self.BATCHABLE)}")
                    if group is not None and group in failed:
                        results.append({"skipped": True})
                        continue
                    if method == "record_products":
                        kwargs = {**kwargs, "flush": False}
                    try:
                        results.append({"ok": getattr(self, method)(*args, **kwargs)})
                    except Exception as exc:
                        results.append({"error": f"{type(exc).__name__}: {exc}", "type": type(exc).__name__})
                        if group is not None:
                            failed.add(group)
            pending, self._pending = self._pending, None
        finally:
            self._pending = None
        for event, name, stage, detail in pending:  # after the commit: the log never runs ahead
            self._log(event, name, stage=stage, **detail)
        self._flush_table()
        return results

    def transition_many(self, items: list) -> list[dict]:
        """Several :meth:`transition` calls in one transaction, all or nothing (see
        :meth:`streamcal.ledger.Ledger.transition_many`); returns the records."""
        pending: list = []
        self._pending = pending
        try:
            with self.ledger.batch():
                out = []
                for item in items:
                    file_id, state, *rest = item
                    out.append(self.transition(file_id, state, **(rest[0] if rest else {})))
        finally:
            self._pending = None
        for event, name, stage, detail in pending:
            self._log(event, name, stage=stage, **detail)
        return out

    def quarantine(self, file_id: int | None, path: str, check: str, reason: str) -> dict | None:
        """Move a bad input to ``<products>/quarantine/`` (with its reason) and mark it quarantined.

        A bad file seen at ingest (``file_id`` None) is recorded first, under its content hash
        when it has content, else under a key unique to this sighting."""
        from ..sinks import quarantine

        p = Path(path)
        if file_id is None:
            regular = p.is_file() and not p.is_symlink() and p.stat().st_size > 0
            sha = file_sha256(p) if regular else f"nohash:{path}:{time.time_ns()}"
            size = p.stat().st_size if regular else 0
            file_id, is_new = self.ledger.record_landed(path, sha, size)
            if not is_new:
                file_id = None  # the same content again (an alias now): move it, leave the record alone
        rec = None
        if file_id is not None:
            rec = _plain(self.ledger.transition(file_id, "quarantined", error=reason, check=check))
        if p.exists() or p.is_symlink():
            quarantine(p, self.products, check=check, reason=reason)
        self._log("quarantined", p.name, file_id=file_id, check=check, reason=reason)
        return rec

    def log(self, event: str, name: str, stage: str | None = None, **detail) -> None:
        """Write one event to the event log (e.g. ``retried``)."""
        self._log(event, name, stage=stage, **detail)

    def in_flight(self) -> list[dict]:
        return [_plain(r) for r in self.ledger.in_flight()]

    def known_paths(self) -> list[str]:
        return sorted(self.ledger.known_paths())

    def landed_times(self) -> dict[str, float]:
        return self.ledger.landed_times()

    def get(self, file_id: int) -> dict:
        return _plain(self.ledger.get(file_id))

    def summary(self, recent: int = 10) -> dict:
        return self.ledger.summary(recent)

    def close(self) -> None:
        for sink in (self.events, self.table):
            close = getattr(sink, "close", None) or getattr(sink, "flush", None)
            if close:
                try:
                    close()
                except Exception:
                    pass
        self.ledger.close()
