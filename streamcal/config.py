"""Service configuration: frozen dataclasses loaded from TOML, every field with a documented default.

A configuration file names only what it changes::

    [ray]
    address = "auto"            # omit (None) to start a local cluster
    auth_mode = "token"         # "token" | "disabled" | "default" (leave RAY_AUTH_MODE alone)
    dashboard_host = "127.0.0.1"

    [retries]
    max_attempts = 3
    backoff_seconds = 1.0

    [ingest]
    sweep_interval = 5.0
    stability_seconds = 2.0
    polling = false

    [associations]
    late_member_timeout = 600.0
    cross_input_timeout = 1800.0

    [pools.detector1]           # or [pools.calwebb_detector1]
    size = 2
    num_cpus = 0.5
    memory_mb = 1024
    max_in_flight = 4

    [pipelines.detector1.steps.jump]      # jwst step and parameter names
    rejection_threshold = 5.0
    [pipelines.detector1.overrides]       # jwst reference types
    gain = "/refs/my_gain.fits"

Plain Python (no Ray); :mod:`streamcal.actors` reads it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from . import registry

#: Every pipeline that gets a pool: stage 1, then stages 2 and 3 (from the registry).
STAGE1, STAGE2, STAGE3 = (registry.stage_pipelines(k) for k in (1, 2, 3))
PIPELINES = STAGE1 + STAGE2 + STAGE3

AUTH_MODES = ("default", "token", "disabled")


@dataclass(frozen=True)
class PoolConfig:
    """One stage pool.

    Attributes
    ----------
    size : int
        Number of worker actors (created on first use).
    num_cpus : float
        Logical CPUs Ray reserves per actor; fractional so that every pool fits on a small node
        (Ray never pins, the OS time-slices).
    memory_mb : int
        Memory Ray reserves per actor (scheduling only; Ray's ``memory`` resource).
    max_in_flight : int
        At most this many exposures submitted to the pool at once (backpressure: the rest wait
        as paths, never loaded).
    resources : mapping
        Custom Ray resources per actor, e.g. ``{"stage_node": 1}`` to place the workers on nodes
        started with ``--resources='{"stage_node": 2}'`` (and count slots per node).
    label_selector : mapping
        Ray node labels the workers must run on, e.g. ``{"role": "stage"}`` (nodes started with
        ``--labels="role=stage"``).
    prefault_mb : int
        Memory a worker takes when it starts and keeps (:mod:`streamcal.memory`; every worker
        keeps what it frees): on VMs where fresh memory costs ~2 s/GB of host page faults, its
        first exposure is then as quick as the next.  About the pipeline's peak resident size
        (image3 of 4 full frames: 2.3 GB, its drizzle helper 0.8 GB); 0: none.
    memory_limit_mb : int
        The most private memory a worker may hold (``RLIMIT_DATA``): an allocation beyond it
        fails in that worker alone, instead of the host running out and other workers' exposures
        dying with it.  An input declaring arrays that would not fit in 3/4 of it is refused as
        bad input before anything is read (``check="budget"``, saying which setting to raise).
        0: four times ``memory_mb``, at least 4096.
    """

    size: int = 1
    num_cpus: float = 0.25
    memory_mb: int = 512
    max_in_flight: int = 2
    resources: Mapping[str, float] = field(default_factory=dict)
    label_selector: Mapping[str, str] = field(default_factory=dict)
    prefault_mb: int = 0
    memory_limit_mb: int = 0

    def __post_init__(self):
        if self.size < 1 or self.max_in_flight < 1:
            raise ValueError(f"pool size and max_in_flight must be >= 1, got {self}")
        if min(self.num_cpus, self.memory_mb, self.prefault_mb, self.memory_limit_mb) < 0:
            raise ValueError(f"num_cpus, memory_mb, prefault_mb and memory_limit_mb must be >= 0, got {self}")

    @property
    def private_memory_limit_mb(self) -> int:
        """The cap a worker sets on its private memory, MB (see ``memory_limit_mb``)."""
        return self.memory_limit_mb or max(4 * self.memory_mb, 4096, self.prefault_mb + 2048)


def _default_pools() -> dict[str, PoolConfig]:
    return {e.name: PoolConfig(**vars(e.pool)) for e in registry.REGISTRY.values()}


@dataclass(frozen=True)
class PipelineConfig:
    """What the service runs a pipeline with, in jwst's names (``[pipelines.<name>]``).

    Attributes
    ----------
    steps : mapping
        ``{step: {parameter: value}}``, as ``--set step.parameter=value`` on the command line.
    overrides : mapping
        ``{reftype: path}``: this reference file for every exposure (jwst ``override_<reftype>``).
    """

    steps: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    overrides: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        for step, values in self.steps.items():
            if not isinstance(values, Mapping):
                raise ValueError(f"steps.{step} must be a table of parameter = value, got {values!r}")


@dataclass(frozen=True)
class AssociationConfig:
    """The association buffer between stage 2 and stage 3.

    Attributes
    ----------
    late_member_timeout : float
        Seconds a stage-3 candidate waits, from its first member, for the members it still
        expects; then stage 3 runs with what is there, the product is marked partial, and it is
        remade when the missing members arrive.
    stage3_quicklook : bool
        Also make image2's single-exposure ``_i2d`` for exposures bound for image3 (off: their
        mosaic comes from image3, and a full-frame resample per member delays the mosaic).
    cross_input_timeout : float
        Seconds an exposure waits for another stage's products it needs (the WFSS spec2 needs its
        direct image's catalog and segmentation map) before it fails, saying which never came.
    """

    late_member_timeout: float = 600.0
    stage3_quicklook: bool = False
    cross_input_timeout: float = 1800.0

    def __post_init__(self):
        if self.late_member_timeout < 0 or self.cross_input_timeout < 0:
            raise ValueError(f"late_member_timeout and cross_input_timeout must be >= 0, got {self}")


@dataclass(frozen=True)
class RayConfig:
    """Where to run.

    Attributes
    ----------
    address : str or None
        ``None`` starts a new local cluster; ``"auto"`` or ``"host:port"`` joins one.
    auth_mode : str
        ``"default"`` leaves ``RAY_AUTH_MODE`` as it is; ``"token"`` or ``"disabled"`` exports it
        before Ray starts (one mode for the whole cluster, see ``reference/ray_ops.md``).
    dashboard_host : str
        The dashboard binds here (127.0.0.1 by default: not reachable from other hosts).
    include_dashboard : bool
        Start the dashboard with a local cluster.
    num_cpus : int or None
        CPUs of a new local cluster (``None``: all).
    object_store_mb : int or None
        Object store of a new local cluster (``None``: Ray's default).
    namespace : str
        Ray namespace of the service's named actors.
    control_label_selector : mapping
        Node labels the control actors (ingest: watches the landing directory; ledger: writes
        the products directory) must run on, e.g. ``{"role": "ingest"}`` for the node that
        mounts both (empty: anywhere; on one host it does not matter).
    """

    address: str | None = None
    auth_mode: str = "default"
    dashboard_host: str = "127.0.0.1"
    include_dashboard: bool = True
    num_cpus: int | None = None
    object_store_mb: int | None = None
    namespace: str = "streamcal"
    control_label_selector: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if self.auth_mode not in AUTH_MODES:
            raise ValueError(f"ray.auth_mode must be one of {AUTH_MODES}, got {self.auth_mode!r}")


@dataclass(frozen=True)
class RetryConfig:
    """Transient failures (worker died, OOM, OSError) are retried; bad input and not-implemented never.

    Attributes
    ----------
    max_attempts : int
        Attempts per stage before the exposure is failed.
    backoff_seconds : float
        Wait before retry ``k`` is ``backoff_seconds * 2**(k-1)``.
    """

    max_attempts: int = 3
    backoff_seconds: float = 1.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before the next try after ``attempt`` failed tries."""
        return self.backoff_seconds * 2 ** max(attempt - 1, 0)


@dataclass(frozen=True)
class IngestConfig:
    """Watching the landing directory.

    Attributes
    ----------
    sweep_interval : float
        Seconds between full sweeps of the landing directory (finds files whose events were lost).
    stability_seconds : float
        A file whose headers cannot be parsed yet counts as complete once its size and mtime have
        not changed for this long.
    polling : bool
        Use the polling observer (network filesystems) instead of inotify.
    poll_interval : float
        Seconds between polls of the polling observer and rechecks of incomplete files.
    incomplete_timeout : float
        A file still incomplete after this long is quarantined (truncated).
    """

    sweep_interval: float = 5.0
    stability_seconds: float = 2.0
    polling: bool = False
    poll_interval: float = 1.0
    incomplete_timeout: float = 600.0


@dataclass(frozen=True)
class ServiceConfig:
    """Everything ``streamcal run`` needs besides the two directories.

    Attributes
    ----------
    landing : Path or None
        Directory watched for raw exposures.
    products : Path or None
        Products, the ledger (``ledger.sqlite``), event log, product table, ``quarantine/``.
    refs : str or None
        Reference-file directory (``None``: the synthetic set).
    loop_interval : float
        Seconds the control loop waits for results before its housekeeping.
    """

    landing: Path | None = None
    products: Path | None = None
    refs: str | None = None
    loop_interval: float = 0.2
    ray: RayConfig = field(default_factory=RayConfig)
    retries: RetryConfig = field(default_factory=RetryConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    associations: AssociationConfig = field(default_factory=AssociationConfig)
    pools: Mapping[str, PoolConfig] = field(default_factory=_default_pools)
    pipelines: Mapping[str, PipelineConfig] = field(default_factory=dict)

    def pool(self, pipeline: str) -> PoolConfig:
        """The pool configuration of a pipeline (any of its names)."""
        return self.pools[canonical_pipeline(pipeline)]

    def pipeline(self, pipeline: str) -> PipelineConfig:
        """Step parameters and reference overrides of a pipeline (any of its names)."""
        return self.pipelines.get(canonical_pipeline(pipeline), PipelineConfig())

    def with_dirs(self, landing: str | Path | None = None, products: str | Path | None = None,
                  address: str | None = None) -> "ServiceConfig":
        """A copy with the landing/products directories (and Ray address) replaced when given."""
        out = self
        if landing is not None:
            out = replace(out, landing=Path(landing))
        if products is not None:
            out = replace(out, products=Path(products))
        if address is not None:
            out = replace(out, ray=replace(out.ray, address=address))
        return out


def canonical_pipeline(name: str) -> str:
    """``"detector1"`` or ``"calwebb_detector1"`` -> ``"calwebb_detector1"``; unknown -> ValueError."""
    return registry.canonical(name)


def _build(cls, values: Mapping[str, Any], where: str):
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise ValueError(f"[{where}] has unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
    return cls(**values)


def _pipeline_config(name: str, values: Mapping[str, Any]) -> PipelineConfig:
    """``[pipelines.<name>]`` checked now — steps, parameters, override files — so that a wrong
    name fails the service at start, not every exposure."""
    from .pipelines.definitions import validate_step_values

    config = _build(PipelineConfig, values, f"pipelines.{name}")
    try:
        validate_step_values(name, config.steps)
    except ValueError as exc:
        raise ValueError(f"[pipelines.{name}.steps]: {exc}") from None
    missing = [f"{k} = {v}" for k, v in config.overrides.items() if not Path(v).is_file()]
    if missing:
        raise ValueError(f"[pipelines.{name}.overrides]: no such file: {', '.join(missing)}")
    return config


def config_from_dict(data: Mapping[str, Any]) -> ServiceConfig:
    """Build a :class:`ServiceConfig` from parsed TOML; unknown keys raise ValueError."""
    data = dict(data)
    kwargs: dict[str, Any] = {}
    sections = {"ray": RayConfig, "retries": RetryConfig, "ingest": IngestConfig,
                "associations": AssociationConfig}
    for name, cls in sections.items():
        if name in data:
            kwargs[name] = _build(cls, data.pop(name), name)
    pools = _default_pools()
    for name, values in dict(data.pop("pools", {})).items():
        full = canonical_pipeline(name)
        pools[full] = _build(PoolConfig, {**vars(pools[full]), **values}, f"pools.{name}")
    kwargs["pools"] = pools
    kwargs["pipelines"] = {canonical_pipeline(name): _pipeline_config(name, values)
                           for name, values in dict(data.pop("pipelines", {})).items()}
    for key in ("landing", "products"):
        if key in data:
            kwargs[key] = Path(data.pop(key))
    kwargs.update({k: data.pop(k) for k in ("refs", "loop_interval") if k in data})
    if data:
        raise ValueError(f"unknown configuration key(s): {', '.join(sorted(data))}")
    return ServiceConfig(**kwargs)


def load_config(path: str | Path | None = None) -> ServiceConfig:
    """Read a TOML configuration file; ``None`` gives the defaults."""
    if path is None:
        return ServiceConfig()
    with open(path, "rb") as fh:
        return config_from_dict(tomllib.load(fh))


def apply_auth_mode(config: RayConfig, environ: dict | None = None) -> str | None:
    """Export ``RAY_AUTH_MODE`` for ``"token"``/``"disabled"`` (before Ray starts); returns the mode
    now in effect (``None`` if unset)."""
    env = os.environ if environ is None else environ
    if config.auth_mode != "default":
        env["RAY_AUTH_MODE"] = config.auth_mode
    return env.get("RAY_AUTH_MODE")
