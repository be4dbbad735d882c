"""Stage workers: one Ray actor process runs streamcal.pipelines code in-process.

:func:`run_stage` is the plain function (testable without Ray): it never raises, it classifies.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path

import ray

from .. import memory, router
from ..associations.buffer import exposure_root
from ..config import STAGE1
from ..errors import BadInputError, NotImplementedStepError
from ..ingest import content_sha256

#: Outcome kinds returned by :func:`run_stage`.
OK, BAD, NOT_IMPLEMENTED, TRANSIENT = "ok", "bad", "not_implemented", "transient"


def run_stage(pipeline: str, path: str, products_dir: str, refs=None, **options) -> dict:
    """Run one pipeline on one input and classify the outcome.

    Parameters
    ----------
    pipeline : str
        Stage 1: ``path`` is the raw exposure; ``calwebb_image2``: its ``_rate``/``_rateints``;
        ``calwebb_image3``: a level-3 ASN JSON (``options``: ``allowed_roots``, where member
        files may come from, and ``partial``).  Other pipelines are not implemented yet.

    Returns
    -------
    dict
        ``{"kind": "ok", "products": [[path, suffix, sha256], ...], "seconds": s}``, or ``kind`` ``"bad"``
        (BadInputError: quarantine, never retry; with ``check`` and ``reason``),
        ``"not_implemented"`` (failed, never retried) or ``"transient"`` (anything else: retried).
    """
    start = time.perf_counter()
    try:
        run = _RUNNERS.get(pipeline) or (_stage1 if pipeline in STAGE1 else None)
        if run is None:
            raise NotImplementedStepError(f"{pipeline} is not implemented yet; nothing is passed through")
        from ..refs import ReferenceSet

        written = run(pipeline, path, products_dir, refs if refs is not None else ReferenceSet(), **options)
        # checksummed here, in parallel workers, while the bytes are in the page cache
        products = [[str(p), Path(p).stem.rsplit("_", 1)[-1], content_sha256(p)] for p in written]
        return {"kind": OK, "products": products, "seconds": time.perf_counter() - start}
    except BadInputError as exc:
        return {"kind": BAD, "check": exc.check, "reason": exc.reason, "seconds": time.perf_counter() - start}
    except NotImplementedStepError as exc:
        return {"kind": NOT_IMPLEMENTED, "reason": str(exc), "seconds": time.perf_counter() - start}
    except Exception as exc:  # OSError, MemoryError, reference trouble ...: worth another try
        return {"kind": TRANSIENT, "reason": f"{type(exc).__name__}: {exc}",
                "seconds": time.perf_counter() - start}


def _stage1(pipeline, path, products_dir, refs):
    from ..pipelines import CalibrationOptions, calibrate_file

    return calibrate_file(path, products_dir, refs, CalibrationOptions(pipeline=pipeline))


def _image2(pipeline, path, products_dir, refs, *, tweakreg_catalog=False, quicklook=True):
    from ..pipelines import CalibrationOptions
    from ..pipelines.image2 import calibrate_image2_file

    options = CalibrationOptions(skip=frozenset() if quicklook else frozenset({"resample"}))
    return calibrate_image2_file(path, products_dir, refs, options, tweakreg_catalog=tweakreg_catalog)


def _image3(pipeline, path, products_dir, refs, *, allowed_roots=(), partial=False):
    from ..pipelines import CalibrationOptions
    from ..pipelines.image3 import calibrate_image3_file

    # members' catalogs made at stage 2 (named in the ASN) replace detection at firing time
    options = CalibrationOptions(step_values={"tweakreg": {"use_custom_catalogs": True}})
    return calibrate_image3_file(path, products_dir, refs, allowed_roots=list(allowed_roots) or [products_dir],
                                 partial=partial, options=options,
                                 catalog_dataset=Path(products_dir) / CATALOG_DATASET)


#: Where the stream accumulates every source catalog it makes (Parquet dataset, one part per
#: product made; :class:`streamcal.sinks.catalogs.CatalogDataset`).
CATALOG_DATASET = "catalogs"
#: Pipelines past stage 1 that exist, and how to run each.
_RUNNERS = {router.IMAGE2: _image2, router.IMAGE3: _image3}
_PIPELINE_MODULES = {router.IMAGE2: "streamcal.pipelines.image2", router.IMAGE3: "streamcal.pipelines.image3"}
IMPLEMENTED = frozenset(STAGE1) | frozenset(_RUNNERS)


def warm_up(pipeline: str, prefault_mb: int = 0) -> list[str]:
    """Import the code of ``pipeline`` (its module and step modules) now, while the worker starts,
    run the module's own ``warm_up`` if it has one, and take ``prefault_mb`` of memory
    (:mod:`streamcal.memory`): the first exposure a new worker gets would otherwise pay seconds
    for importing photutils, tweakwcs, drizzle, gwcs and friends, and for fresh memory.  Returns the steps loaded (steps streamcal lacks are
    left out; they fail clearly when an exposure needs them)."""
    from ..pipelines.definitions import PIPELINES
    from ..steps import get_step

    spec = PIPELINES.get(pipeline)
    if spec is None:
        return []
    module = importlib.import_module(_PIPELINE_MODULES.get(pipeline, "streamcal.pipelines.runner"))
    if hasattr(module, "warm_up"):  # what else a pipeline's first run would wait for
        module.warm_up(prefault_mb)
    else:
        memory.prefault(prefault_mb)
    loaded = []
    for name in dict.fromkeys(spec.nir_steps + spec.miri_steps):
        try:
            get_step(name)
            loaded.append(name)
        except KeyError:
            pass
    return loaded


def clean_partials(products_dir: str | Path, input_name: str) -> list[Path]:
    """Remove hidden temporary products (``.<root>_*.part``) a killed worker left behind
    (``root``: the exposure of a raw or level-2 input, the product of a ``*_asn.json``)."""
    name = Path(input_name).name
    root = name.removesuffix("_asn.json") if name.endswith("_asn.json") else exposure_root(name)
    removed = []
    for tmp in Path(products_dir).glob(f".{root}_*.part"):
        tmp.unlink(missing_ok=True)
        removed.append(tmp)
    return removed


@ray.remote(max_restarts=-1, max_task_retries=0)
class StageWorker:
    """One worker of a stage pool (``max_restarts=-1``: a crashed process comes back; the pool
    also replaces a worker it saw die).  Calls are not retried by Ray: the pool counts attempts."""

    def __init__(self, pipeline: str, refs_dir: str | None = None, prefault_mb: int = 0):
        from ..refs import ReferenceSet

        self.pipeline = pipeline
        self.refs = ReferenceSet(refs_dir) if pipeline in IMPLEMENTED else None
        self._metrics = None
        memory.retain_freed_memory()  # one exposure after another: reuse, do not re-fault
        warm_up(pipeline, prefault_mb)

    def ping(self) -> int:
        """The worker's process id (a liveness check; tests kill it)."""
        return os.getpid()

    def process(self, path: str, products_dir: str, options: dict | None = None) -> dict:
        """Run the pipeline on one input; see :func:`run_stage`."""
        from .metrics import stage_seconds

        outcome = run_stage(self.pipeline, path, products_dir, self.refs, **(options or {}))
        stage_seconds().observe(outcome["seconds"], tags={"stage": self.pipeline})
        outcome["pid"] = os.getpid()
        outcome["node"] = ray.get_runtime_context().get_node_id()
        return outcome
