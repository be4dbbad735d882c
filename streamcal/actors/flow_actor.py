"""The flow actor: the orchestration core (:class:`streamcal.flow.Flow`) in one Ray actor, the
only writer of ``<products>/ledger.sqlite`` and of what mirrors it — the event log, the product
table, metrics, quarantine moves — so that every record is written by one process in one order.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import ray

from ..config import ServiceConfig
from ..flow import Arrival, Flow, Job, Outcome, log_event
from ..ledger import Ledger

LEDGER_NAME = "ledger.sqlite"


class Mirror:
    """The ledger's listener: each committed event to the event log, each product to the product
    table, failures and latencies to the metrics (Ray-free; the table and log are sinks)."""

    def __init__(self, products: Path):
        from ..sinks import EventLog, ProductTable

        self.events = EventLog(products / "events.jsonl")
        self.table = ProductTable(products / "products_table")
        self.ledger: Ledger | None = None
        self._finished: dict[int, dict] = {}  # file id -> its stage run finished in this commit

    def __call__(self, rows: list[dict]) -> None:
        from . import metrics

        for row in rows:
            event = log_event(row)
            if event.event == "product":  # where and how fast it was made: from its stage's run
                run = self._finished.get(row["file_id"], {})
                event.detail.update({k: run[k] for k in ("node", "seconds") if k in run})
            self.events.write(event.event, file=event.file, stage=event.stage, detail=event.detail,
                              when=event.seconds)
            if event.event == "finished" and row["file_id"] is not None:
                self._finished[row["file_id"]] = event.detail
                rec = self.ledger.get(row["file_id"])
                metrics.latency_seconds().observe(max(event.seconds - rec.landed_at, 0.0),
                                                  tags={"stage": event.stage or "-"})
            elif event.event == "product":
                self._product_row(row["file_id"], event)
            elif event.event in ("failed", "quarantined"):
                reason = f"{event.event}:{event.detail.get('check') or '-'}"
                metrics.failures().inc(1.0, tags={"stage": event.stage or "-", "reason": reason})
            elif event.event == "landed":
                metrics.files_landed().inc()
        self._finished.clear()  # a run's products are committed with its "finished": nothing to keep
        self.table.flush()

    def _product_row(self, file_id: int, event) -> None:
        from ..registry import entry

        rec = self.ledger.get(file_id)
        path = event.detail["path"]
        self.table.add({"file": rec.name, "product": path, "suffix": event.detail.get("suffix"),
                        "stage": f"stage{entry(event.stage).stage}" if event.stage else None,
                        "pipeline": event.stage, "exp_type": (rec.route or {}).get("exp_type"),
                        "sha256": self.ledger.product(path).sha256, "size": Path(path).stat().st_size,
                        "seconds": event.detail.get("seconds")})

    def close(self) -> None:
        self.table.flush()
        self.events.close()


def build_flow(config: ServiceConfig, mirror: Mirror | None = None) -> Flow:
    """The core on the products directory's ledger, with the stream's sinks."""
    from ..associations import AssociationStore, write_firing_asn
    from ..fitsio import read_header
    from ..router import route_file

    products = Path(config.products)
    ledger = Ledger(products / LEDGER_NAME, listener=mirror)
    if mirror is not None:
        mirror.ledger = ledger
    store = AssociationStore(ledger, config.associations.late_member_timeout)
    return Flow(ledger, config, store, write_asn=partial(write_firing_asn, products_dir=products),
                read_header=read_header, route_file=route_file,
                quarantine=lambda path, check, reason: _move(path, products, check, reason))


def _move(path: str, products: Path, check: str, reason: str) -> None:
    from ..sinks import quarantine

    p = Path(path)
    if p.exists() or p.is_symlink():
        quarantine(p, products, check=check, reason=reason)


@ray.remote
class FlowActor:
    """:class:`~streamcal.flow.Flow` on the products directory (see :func:`build_flow`)."""

    def __init__(self, config: ServiceConfig):
        self.mirror = Mirror(Path(config.products))
        self.flow = build_flow(config, self.mirror)

    def land(self, arrivals: list[Arrival]) -> list[Job]:
        return self.flow.land(arrivals)

    def start(self, jobs: list[Job]) -> list[Job]:
        return self.flow.start(jobs)

    def finish(self, results: list[tuple[Job, Outcome]]) -> list[Job]:
        return self.flow.finish(results)

    def tick(self) -> list[Job]:
        return self.flow.tick()

    def resume(self) -> list[Job]:
        return self.flow.resume()

    def idle(self) -> bool:
        return self.flow.idle

    def errors(self) -> list[str]:
        errors, self.flow.errors = self.flow.errors, []
        return errors

    def landed_times(self) -> dict[str, float]:
        return self.flow.ledger.landed_times()

    def summary(self, recent: int = 10) -> dict:
        return self.flow.ledger.summary(recent)

    def close(self) -> None:
        self.mirror.close()
        self.flow.ledger.close()
