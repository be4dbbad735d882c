"""Stage workers: one Ray actor process runs one pipeline's code in-process.

:func:`run_job` is the plain function (testable without Ray): it never raises, it classifies the
outcome (:class:`~streamcal.flow.OutcomeKind`); the orchestration core decides what follows.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path

import ray

from .. import memory, registry
from ..associations.buffer import exposure_root
from ..config import PipelineConfig, PoolConfig
from ..errors import BadInputError, NotImplementedStepError
from ..flow import Job, Outcome, OutcomeKind, ProductFile
from ..ingest import content_sha256
from ..sinks.products import DirectorySink

#: Where the stream accumulates every source catalog it makes (Parquet dataset, one part per
#: product made; :class:`streamcal.sinks.catalogs.CatalogDataset`).
CATALOG_DATASET = "catalogs"
#: Where the stream accumulates every light curve (``_phot``) it makes, the same way.
LIGHTCURVE_DATASET = "lightcurves"


def _options(config: PipelineConfig, **extra):
    from ..pipelines import CalibrationOptions

    steps = {step: dict(values) for step, values in config.steps.items()}
    for step, values in extra.pop("step_values", {}).items():
        steps.setdefault(step, {}).update(values)
    return CalibrationOptions(step_values=steps, **extra)


def _stage1(job: Job, sink: DirectorySink, refs, config: PipelineConfig):
    from ..pipelines import calibrate_file

    return calibrate_file(job.path, sink, refs, _options(config, pipeline=job.pipeline))


def _image2(job: Job, sink: DirectorySink, refs, config: PipelineConfig):
    from ..pipelines.image2 import calibrate_image2_file

    options = _options(config, skip=frozenset() if job.options.quicklook else frozenset({"resample"}))
    return calibrate_image2_file(job.path, sink, refs, options, tweakreg_catalog=job.options.tweakreg_catalog)


def _image3(job: Job, sink: DirectorySink, refs, config: PipelineConfig):
    from ..pipelines.image3 import calibrate_image3_file

    # members' catalogs made at stage 2 (named in the ASN) replace detection at firing time
    options = _options(config, step_values={"tweakreg": {"use_custom_catalogs": True}})
    return calibrate_image3_file(job.path, sink, refs,
                                 allowed_roots=list(job.options.allowed_roots) or [str(sink.directory)],
                                 partial=job.options.partial, options=options,
                                 catalog_dataset=sink.directory / CATALOG_DATASET)


def _tso3(job: Job, sink: DirectorySink, refs, config: PipelineConfig):
    from ..pipelines.tso3 import calibrate_tso3_file

    return calibrate_tso3_file(job.path, sink, refs, allowed_roots=list(job.options.allowed_roots) or
                               [str(sink.directory)], partial=job.options.partial, options=_options(config),
                               lightcurve_dataset=sink.directory / LIGHTCURVE_DATASET)


def _coron3(job: Job, sink: DirectorySink, refs, config: PipelineConfig):
    from ..pipelines.coron3 import calibrate_coron3_file

    return calibrate_coron3_file(job.path, sink, refs, allowed_roots=list(job.options.allowed_roots) or
                                 [str(sink.directory)], partial=job.options.partial, options=_options(config))


#: How each pipeline with the streamcal engine is run on a job's input.
RUNNERS = {**{name: _stage1 for name in registry.stage_pipelines(1)},
           registry.IMAGE2: _image2, registry.IMAGE3: _image3, registry.TSO3: _tso3,
           registry.CORON3: _coron3}


def run_job(job: Job, products_dir: str, refs=None, config: PipelineConfig = PipelineConfig()) -> Outcome:
    """Run ``job``'s pipeline on its input and classify the outcome.

    Returns
    -------
    Outcome
        ``OK`` with the products (checksummed here, in parallel workers, while the bytes are in
        the page cache); ``BAD_INPUT`` (BadInputError: quarantine, never retry);
        ``NOT_IMPLEMENTED`` (fail, never retry); ``TRANSIENT`` (anything else: retried).
    """
    start = time.perf_counter()
    try:
        run = RUNNERS.get(job.pipeline) if registry.implemented(job.pipeline) else None
        if run is None:
            raise NotImplementedStepError(f"{job.pipeline} is not implemented yet; nothing is passed through")
        from ..refs import ReferenceSet

        written = run(job, DirectorySink(products_dir), refs if refs is not None else ReferenceSet(), config)
        products = tuple(ProductFile(str(p), Path(p).stem.rsplit("_", 1)[-1], content_sha256(p)) for p in written)
        return Outcome(OutcomeKind.OK, products, time.perf_counter() - start)
    except BadInputError as exc:
        return Outcome(OutcomeKind.BAD_INPUT, seconds=time.perf_counter() - start, check=exc.check, reason=exc.reason)
    except NotImplementedStepError as exc:
        return Outcome(OutcomeKind.NOT_IMPLEMENTED, seconds=time.perf_counter() - start, reason=str(exc))
    except Exception as exc:  # OSError, MemoryError, reference trouble ...: worth another try
        return Outcome(OutcomeKind.TRANSIENT, seconds=time.perf_counter() - start,
                       reason=f"{type(exc).__name__}: {exc}")


def warm_up(pipeline: str, prefault_mb: int = 0) -> list[str]:
    """Import the code of ``pipeline`` (its module and step modules) now, while the worker starts,
    run the module's own ``warm_up`` if it has one, and take ``prefault_mb`` of memory
    (:mod:`streamcal.memory`): the first exposure a new worker gets would otherwise pay seconds
    for importing photutils, tweakwcs, drizzle, gwcs and friends, for the ASDF machinery every
    product's metadata tree is written with, and for fresh memory.  Returns
    the steps loaded (steps streamcal lacks are left out; they fail clearly when an exposure
    needs them)."""
    from ..pipelines.definitions import PIPELINES
    from ..steps import get_step

    entry = registry.entry(pipeline)
    spec = PIPELINES.get(entry.name)
    if spec is None or entry.module is None:
        return []
    from ..fitsio import warm_up as warm_up_writers

    warm_up_writers()
    module = importlib.import_module(entry.module)
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
    also replaces a worker it saw die).  Calls are not retried by Ray: the core counts attempts."""

    def __init__(self, pipeline: str, refs_dir: str | None = None, pool: PoolConfig = PoolConfig(),
                 config: PipelineConfig = PipelineConfig()):
        from ..boundary import set_memory_budget
        from ..refs import ReferenceSet

        self.pipeline, self.config = pipeline, config
        implemented = registry.implemented(pipeline)
        self.refs = ReferenceSet(refs_dir, overrides=dict(config.overrides)) if implemented else None
        limit = pool.private_memory_limit_mb * 2**20
        memory.limit_private_memory(limit)       # one file can never take the host's memory
        set_memory_budget(limit * 3 // 4)        # what an input may ask for; the rest: code, prefault
        memory.retain_freed_memory()  # one exposure after another: reuse, do not re-fault
        warm_up(pipeline, pool.prefault_mb)

    def ping(self) -> int:
        """The worker's process id (a liveness check; tests kill it)."""
        return os.getpid()

    def process(self, job: Job, products_dir: str) -> Outcome:
        """Run the pipeline on one job's input; see :func:`run_job`.  A transient failure leaves no
        hidden partial product behind."""
        from dataclasses import replace

        from .metrics import stage_seconds

        outcome = run_job(job, products_dir, self.refs, self.config)
        if outcome.kind is OutcomeKind.TRANSIENT:
            clean_partials(products_dir, job.path)
        stage_seconds().observe(outcome.seconds, tags={"stage": self.pipeline})
        return replace(outcome, node=ray.get_runtime_context().get_node_id())
