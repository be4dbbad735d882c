"""The pipeline registry: every pipeline streamcal knows, declared once.

Each :class:`PipelineEntry` says what a pipeline is to the stream — its jwst name and short name,
its stage, what it reads and writes, the pool its workers run in, which engine runs it and what
it needs from other stages' products.  The router (EXP_TYPE → pipelines), the configuration
(pool sections, ``[pipelines.<name>]``), the command line (``--pipeline``), the stage workers (how
to run an input) and the orchestration core (readiness) all read it.  Adding a pipeline is one
entry here plus its step list in :mod:`streamcal.pipelines.definitions`.

Nothing above this module is imported: it sits at the bottom of the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrossInput", "PipelineEntry", "PoolDefaults", "REGISTRY", "ENGINES",
           "D1", "TSO1", "DARK", "GUIDER", "IMAGE2", "SPEC2", "IMAGE3", "SPEC3", "AMI3", "CORON3", "TSO3",
           "entry", "canonical", "short_name", "stage_pipelines", "implemented"]

D1, TSO1, DARK, GUIDER = "calwebb_detector1", "calwebb_tso1", "calwebb_dark", "calwebb_guider"
IMAGE2, SPEC2 = "calwebb_image2", "calwebb_spec2"
IMAGE3, SPEC3, AMI3, CORON3, TSO3 = ("calwebb_image3", "calwebb_spec3", "calwebb_ami3",
                                     "calwebb_coron3", "calwebb_tso3")

#: Engines a pipeline can be run by: streamcal's own steps, or (later issue) jwst's.
ENGINES = ("streamcal", "jwst")


@dataclass(frozen=True)
class PoolDefaults:
    """Default Ray resources of a pipeline's worker pool (``[pools.<name>]`` overrides them).

    Attributes
    ----------
    size : int
        Worker actors.
    num_cpus : float
        Logical CPUs reserved per worker (fractional: every pool fits on a small node).
    memory_mb : int
        Memory reserved per worker, MB; also the budget a worker's input must fit in.
    max_in_flight : int
        Inputs submitted to the pool at once.
    prefault_mb : int
        Memory a worker takes (and keeps) at start, MB (see :mod:`streamcal.memory`).
    """

    size: int = 1
    num_cpus: float = 0.25
    memory_mb: int = 512
    max_in_flight: int = 2
    prefault_mb: int = 0


@dataclass(frozen=True)
class CrossInput:
    """Products of another stage that a pipeline needs besides its own input.

    The WFSS ``calwebb_spec2`` needs the source catalog and segmentation map of its direct
    image's ``calwebb_image3`` product (same program and observation).

    Attributes
    ----------
    pipeline : str
        The pipeline whose products are needed.
    suffixes : tuple of str
        Every one of these product suffixes must exist (``("cat", "segm")``).
    exp_types : tuple of str
        The EXP_TYPEs that need them (empty: every exposure of the pipeline).
    """

    pipeline: str
    suffixes: tuple[str, ...]
    exp_types: tuple[str, ...] = ()

    def applies_to(self, exp_type: str) -> bool:
        return not self.exp_types or exp_type in self.exp_types


@dataclass(frozen=True)
class PipelineEntry:
    """One pipeline as the stream sees it.

    Attributes
    ----------
    name : str
        jwst's configuration name, ``calwebb_detector1``.
    short : str
        The short name used in configuration files and on the command line, ``detector1``.
    stage : int
        1 (raw ramps in), 2 (one exposure's level-1 product in) or 3 (an association in).
    inputs : tuple of str
        Suffixes of the files it reads (``"uncal"``, ``"rate"``, ``"asn"`` ...).
    products : tuple of str
        Suffixes of the products it writes.
    engine : str or None
        ``"streamcal"``; ``None`` while not implemented (its exposures fail with "not implemented
        yet", never passed through).
    module : str or None
        Module holding the code a worker imports at start (``warm_up``) and runs.
    pool : PoolDefaults
    needs : tuple of CrossInput
        Products of other stages it waits for.
    """

    name: str
    short: str
    stage: int
    inputs: tuple[str, ...]
    products: tuple[str, ...]
    engine: str | None
    module: str | None
    pool: PoolDefaults = PoolDefaults()
    needs: tuple[CrossInput, ...] = ()

    @property
    def implemented(self) -> bool:
        return self.engine is not None


def _later(name: str, stage: int, inputs: tuple[str, ...], products: tuple[str, ...],
           needs: tuple[CrossInput, ...] = ()) -> PipelineEntry:
    """A pipeline of a later issue: no engine, and a pool that reserves nothing (it only fails fast)."""
    return PipelineEntry(name, name.removeprefix("calwebb_"), stage, inputs, products, None, None,
                         PoolDefaults(size=1, num_cpus=0.0, memory_mb=0, max_in_flight=2), needs)


_STAGE1 = "streamcal.pipelines.runner"
_RAW = ("uncal",)

#: Every pipeline, in stage order.  Ray only counts CPUs (it never pins): every pool fits in 2
#: CPUs at once, or one would wait forever on a small node.
REGISTRY: dict[str, PipelineEntry] = {e.name: e for e in (
    PipelineEntry(D1, "detector1", 1, _RAW, ("rate", "rateints", "ramp"), "streamcal", _STAGE1,
                  PoolDefaults(size=2, num_cpus=0.5, memory_mb=1024, max_in_flight=4)),
    PipelineEntry(TSO1, "tso1", 1, _RAW, ("rate", "rateints", "ramp"), "streamcal", _STAGE1),
    PipelineEntry(DARK, "dark", 1, _RAW, ("dark",), "streamcal", _STAGE1),
    PipelineEntry(GUIDER, "guider", 1, _RAW, ("cal",), "streamcal", _STAGE1),
    PipelineEntry(IMAGE2, "image2", 2, ("rate", "rateints", "asn"), ("cal", "calints", "i2d", "bsub", "cat"),
                  "streamcal", "streamcal.pipelines.image2",
                  PoolDefaults(size=1, num_cpus=0.125, memory_mb=1024, max_in_flight=2)),
    _later(SPEC2, 2, ("rate", "rateints", "asn"), ("cal", "calints", "s2d", "s3d", "x1d", "x1dints"),
           needs=(CrossInput(IMAGE3, ("cat", "segm"), ("NRC_WFSS", "NIS_WFSS")),)),
    # image3 of 4 full frames peaks at 2.3 GB plus 0.8 GB in its drizzle helper process
    PipelineEntry(IMAGE3, "image3", 3, ("asn",), ("i2d", "crf", "cat", "segm"), "streamcal",
                  "streamcal.pipelines.image3",
                  PoolDefaults(size=1, num_cpus=0.125, memory_mb=3072, max_in_flight=1, prefault_mb=2400)),
    _later(SPEC3, 3, ("asn",), ("s2d", "s3d", "x1d", "c1d")),
    _later(AMI3, 3, ("asn",), ("ami-oi", "amimulti-oi", "aminorm-oi")),
    PipelineEntry(CORON3, "coron3", 3, ("asn",), ("psfstack", "psfalign", "psfsub", "crfints", "i2d"), "streamcal",
                  "streamcal.pipelines.coron3", PoolDefaults(size=1, num_cpus=0.0, memory_mb=1024, max_in_flight=1)),
    # imaging time series (outlier_detection, tso_photometry); spectroscopic members say what is missing.
    # No CPU reserved: every pool together must fit 2 CPUs, and a light curve takes well under a second
    PipelineEntry(TSO3, "tso3", 3, ("asn",), ("crfints", "phot", "x1dints", "whtlt"), "streamcal",
                  "streamcal.pipelines.tso3", PoolDefaults(size=1, num_cpus=0.0, memory_mb=1024, max_in_flight=1)),
)}

#: Other names of pipelines (the seed table writes ``calwebb_dark1``).
ALIASES = {"calwebb_dark1": DARK, "dark1": DARK}


def canonical(name: str) -> str:
    """The jwst name of a pipeline from its jwst name, short name or an alias.

    Raises
    ------
    ValueError
        Not a pipeline; the message lists the known ones.

    Examples
    --------
    >>> canonical("detector1"), canonical("calwebb_dark1")
    ('calwebb_detector1', 'calwebb_dark')
    """
    key = ALIASES.get(name, name)
    if key in REGISTRY:
        return key
    full = ALIASES.get(f"calwebb_{key}", f"calwebb_{key}")
    if full in REGISTRY:
        return full
    known = ", ".join(e.short for e in REGISTRY.values())
    raise ValueError(f"unknown pipeline {name!r}; pipelines: {known} (or their calwebb_ names)")


def entry(name: str) -> PipelineEntry:
    """The entry of a pipeline by any of its names (see :func:`canonical`)."""
    return REGISTRY[canonical(name)]


def short_name(name: str) -> str:
    """``calwebb_image2`` → ``image2``."""
    return entry(name).short


def stage_pipelines(stage: int) -> tuple[str, ...]:
    """The jwst names of the pipelines of one stage, in registry order."""
    return tuple(e.name for e in REGISTRY.values() if e.stage == stage)


def implemented(name: str | None) -> bool:
    """Whether a pipeline has an engine (``None``: no pipeline, False)."""
    return name is not None and entry(name).implemented
