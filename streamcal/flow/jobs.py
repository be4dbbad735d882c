"""What crosses the boundary between the orchestration core and the workers and ingest: typed,
frozen, picklable values.

An :class:`Arrival` is what ingest found in the landing directory; a :class:`Job` is one input
handed to one pipeline; an :class:`Outcome` is what a worker reports back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from pathlib import PurePath

from ..router import Route

__all__ = ["Arrival", "ArrivalKind", "Job", "Outcome", "OutcomeKind", "ProductFile", "StageOptions",
           "is_asn_name"]


def is_asn_name(path: str) -> bool:
    """Association files are ``*_asn.json`` (jwst's naming)."""
    return PurePath(path).name.lower().endswith("_asn.json")


class ArrivalKind(enum.Enum):
    """What a landed path turned out to be."""

    EXPOSURE = "exposure"      #: a complete raw exposure (routed, or ``unroutable`` says why not)
    ASSOCIATION = "asn"        #: a complete ``*_asn.json`` association file
    BAD = "bad"                #: refused by the landing checks (``check``/``reason`` say why)


@dataclass(frozen=True)
class Arrival:
    """A path ingest hands on.

    Attributes
    ----------
    kind : ArrivalKind
    path : str
    sha256 : str
        Content hash (empty for ``BAD``).
    size : int
        Bytes.
    route : Route or None
        The exposure's route, read from its header by ingest.
    check, reason : str
        Why the file is bad (``BAD``) or cannot be routed (an ``EXPOSURE`` without ``route``).
    """

    kind: ArrivalKind
    path: str
    sha256: str = ""
    size: int = 0
    route: Route | None = None
    check: str = ""
    reason: str = ""


@dataclass(frozen=True)
class StageOptions:
    """How a worker runs its pipeline on one input, beyond the pipeline's configuration.

    Attributes
    ----------
    tweakreg_catalog : bool
        image2: also write the exposure's tweakreg catalog (it is bound for image3).
    quicklook : bool
        image2: also make the single-exposure ``_i2d``.
    partial : bool
        Stage 3: members are missing; the products are marked partial.
    allowed_roots : tuple of str
        Stage 3: directories the association's members may be read from.
    extra_inputs : tuple of str
        Products of other stages the pipeline needs (:class:`~streamcal.registry.CrossInput`).
    """

    tweakreg_catalog: bool = False
    quicklook: bool = True
    partial: bool = False
    allowed_roots: tuple[str, ...] = ()
    extra_inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    """One input for one pipeline.

    Attributes
    ----------
    file_id : int
        The exposure in the ledger (stage 3: the association's last member).
    pipeline : str
        jwst name of the pipeline.
    path : str
        What the worker reads: the raw file, the stage-1 product, or the ASN file.
    landed_at : float
        When the exposure (stage 3: its latest member) landed, seconds since the epoch.
    route : Route or None
    association : str or None
        Stage 3: the product name this job makes.
    options : StageOptions
    attempt : int
        Attempts started so far (set when the ledger counts one).
    ready_at : float
        Not to be started before this time (backoff), seconds since the epoch.
    """

    file_id: int
    pipeline: str
    path: str
    landed_at: float = 0.0
    route: Route | None = None
    association: str | None = None
    options: StageOptions = field(default_factory=StageOptions)
    attempt: int = 0
    ready_at: float = 0.0

    @property
    def key(self) -> tuple:
        """Identity of the work: an exposure in a pipeline, or an association product."""
        return ("association", self.association) if self.association else ("exposure", self.file_id,
                                                                             self.pipeline)

    def with_(self, **changes) -> "Job":
        return replace(self, **changes)


class OutcomeKind(enum.Enum):
    """How a worker's run ended; the core decides what follows from it."""

    OK = "ok"                             #: products written
    BAD_INPUT = "bad"                     #: the input itself is unusable: quarantine, never retry
    NOT_IMPLEMENTED = "not_implemented"   #: fail, never retry, never pass data through
    TRANSIENT = "transient"               #: worker died, out of memory, I/O error: retry (bounded)


@dataclass(frozen=True)
class ProductFile:
    """One product a worker wrote: path, product suffix and SHA-256 of its content."""

    path: str
    suffix: str
    sha256: str


@dataclass(frozen=True)
class Outcome:
    """A worker's report on one :class:`Job`.

    Attributes
    ----------
    kind : OutcomeKind
    products : tuple of ProductFile
        ``OK`` only.
    seconds : float
        Time the pipeline took in the worker.
    check, reason : str
        Why it did not succeed (``check``: the failed check's short name).
    node : str or None
        Ray node id of the worker (where it ran).
    """

    kind: OutcomeKind
    products: tuple[ProductFile, ...] = ()
    seconds: float = 0.0
    check: str = ""
    reason: str = ""
    node: str | None = None

    def product(self, *suffixes: str) -> str | None:
        """Path of the first product with one of ``suffixes`` (in that order of preference)."""
        by_suffix = {p.suffix: p.path for p in self.products}
        return next((by_suffix[s] for s in suffixes if s in by_suffix), None)
