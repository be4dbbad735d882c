"""Ray actors: the imperative shell around the calibration core.  The only place streamcal
imports Ray.

- :mod:`.service` — :class:`~.service.Service`, the driver's control loop (``streamcal run``);
- :mod:`.ingest_actor` — watches and sweeps the landing directory, hands on complete candidates;
- :mod:`.ledger_actor` — the one writer of the ledger, event log, product table and quarantine;
- :mod:`.routing` — the router step (header only);
- :mod:`.pool` / :mod:`.worker` — one stage pool per pipeline: bounded in-flight work, retries;
- :mod:`.association` — the association buffer actor (level-2 products in, stage-3 firings out);
- :mod:`.stage3` — the driver's stage-3 bookkeeping: firings to the ledger and the image3 pool;
- :mod:`.metrics` — ``ray.util.metrics`` of the service.

Import the submodules directly (``from streamcal.actors.service import Service``): importing
this package does not import Ray.
"""
