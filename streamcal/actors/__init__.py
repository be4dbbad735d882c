"""Ray actors: the imperative shell around the orchestration core (:mod:`streamcal.flow`) and
the calibration core.  The only place streamcal imports Ray; no decision is made here.

- :mod:`.service` — :class:`~.service.Service`, the driver's loop (``streamcal run``): arrivals to
  the flow, the flow's jobs to the pools, outcomes back;
- :mod:`.ingest_actor` — watches and sweeps the landing directory, hands on complete arrivals;
- :mod:`.flow_actor` — the flow on the ledger, the one writer of the ledger and its mirrors (event
  log, product table, metrics, quarantine);
- :mod:`.pool` / :mod:`.worker` — one stage pool per pipeline: bounded in-flight work, workers that
  run a job and report its outcome;
- :mod:`.metrics` — ``ray.util.metrics`` of the service.

Import the submodules directly (``from streamcal.actors.service import Service``): importing
this package does not import Ray.
"""
