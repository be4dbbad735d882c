"""ray.util.metrics of the service (exported on each node's metrics port; names gain ``ray_``)."""

from __future__ import annotations

from functools import lru_cache

from ray.util.metrics import Counter, Gauge, Histogram

_SECONDS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600]


@lru_cache(None)
def files_landed() -> Counter:
    return Counter("streamcal_files_landed", description="Raw files recorded in the ledger (new content).")


@lru_cache(None)
def queue_depth() -> Gauge:
    return Gauge("streamcal_queue_depth", description="Exposures waiting for a stage pool.", tag_keys=("stage",))


@lru_cache(None)
def in_flight() -> Gauge:
    return Gauge("streamcal_in_flight", description="Exposures submitted to a stage pool.", tag_keys=("stage",))


@lru_cache(None)
def stage_seconds() -> Histogram:
    return Histogram("streamcal_stage_seconds", description="Processing seconds per stage.",
                     boundaries=_SECONDS, tag_keys=("stage",))


@lru_cache(None)
def latency_seconds() -> Histogram:
    return Histogram("streamcal_landed_to_product_seconds", description="Seconds from landing to product.",
                     boundaries=_SECONDS, tag_keys=("stage",))


@lru_cache(None)
def failures() -> Counter:
    return Counter("streamcal_failures", description="Failed attempts and quarantines by reason.",
                   tag_keys=("stage", "reason"))
