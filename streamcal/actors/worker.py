"""Stage workers: one Ray actor process runs streamcal.pipelines code in-process.

:func:`run_stage` is the plain function (testable without Ray): it never raises, it classifies.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import ray

from ..config import STAGE1
from ..errors import BadInputError, NotImplementedStepError

#: Outcome kinds returned by :func:`run_stage`.
OK, BAD, NOT_IMPLEMENTED, TRANSIENT = "ok", "bad", "not_implemented", "transient"


def run_stage(pipeline: str, path: str, products_dir: str, refs=None) -> dict:
    """Run one pipeline on one exposure and classify the outcome.

    Returns
    -------
    dict
        ``{"kind": "ok", "products": [[path, suffix], ...], "seconds": s}``, or ``kind`` ``"bad"``
        (BadInputError: quarantine, never retry; with ``check`` and ``reason``),
        ``"not_implemented"`` (failed, never retried) or ``"transient"`` (anything else: retried).
    """
    start = time.perf_counter()
    try:
        if pipeline not in STAGE1:
            raise NotImplementedStepError(f"{pipeline} is not implemented yet (stages 2 and 3 come "
                                          "with later issues); nothing is passed through")
        from ..pipelines import CalibrationOptions, calibrate_file
        from ..refs import ReferenceSet

        refs = refs if refs is not None else ReferenceSet()

        written = calibrate_file(path, products_dir, refs, CalibrationOptions(pipeline=pipeline))
        products = [[str(p), p.name[:-5].rsplit("_", 1)[-1]] for p in written]
        return {"kind": OK, "products": products, "seconds": time.perf_counter() - start}
    except BadInputError as exc:
        return {"kind": BAD, "check": exc.check, "reason": exc.reason, "seconds": time.perf_counter() - start}
    except NotImplementedStepError as exc:
        return {"kind": NOT_IMPLEMENTED, "reason": str(exc), "seconds": time.perf_counter() - start}
    except Exception as exc:  # OSError, MemoryError, reference trouble ...: worth another try
        return {"kind": TRANSIENT, "reason": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - start}


def clean_partials(products_dir: str | Path, input_name: str) -> list[Path]:
    """Remove hidden temporary products (``.<root>_*.part``) a killed worker left behind."""
    root = Path(input_name).name.removesuffix(".fits").removesuffix("_uncal")
    removed = []
    for tmp in Path(products_dir).glob(f".{root}_*.part"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


@ray.remote(max_restarts=-1, max_task_retries=0)
class StageWorker:
    """One worker of a stage pool (``max_restarts=-1``: a crashed process comes back; the pool
    also replaces a worker it saw die).  Calls are not retried by Ray: the pool counts attempts."""

    def __init__(self, pipeline: str, refs_dir: str | None = None):
        from ..refs import ReferenceSet

        self.pipeline = pipeline
        self.refs = ReferenceSet(refs_dir) if pipeline in STAGE1 else None
        self._metrics = None

    def ping(self) -> int:
        """The worker's process id (a liveness check; tests kill it)."""
        return os.getpid()

    def process(self, path: str, products_dir: str) -> dict:
        """Run the pipeline on one exposure; see :func:`run_stage`."""
        from .metrics import stage_seconds

        outcome = run_stage(self.pipeline, path, products_dir, self.refs)
        stage_seconds().observe(outcome["seconds"], tags={"stage": self.pipeline})
        outcome["pid"] = os.getpid()
        return outcome
