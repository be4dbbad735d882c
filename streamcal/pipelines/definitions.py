"""Which steps each pipeline runs, in which order, per instrument family (stage 1 and
calwebb_image2).

Orders follow the pipeline table (seed): near-IR and MIRI differ.  Steps skipped by default
(ipc, persistence, charge_migration, firstframe) say so in their own ``Params``; what depends on
the pipeline (the TSO parameter set, MIRI refpix) is in :attr:`PipelineSpec.default_skips`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import registry
from ..errors import NotImplementedStepError

NIR_DETECTOR1 = ("group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity",
                 "persistence", "dark_current", "charge_migration", "jump", "ramp_fit", "gain_scale")
MIRI_DETECTOR1 = ("group_scale", "dq_init", "saturation", "ipc", "firstframe", "reset", "linearity",
                  "rscd", "lastframe", "dark_current", "refpix", "jump", "ramp_fit", "gain_scale")
NIR_DARK = ("group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity")
MIRI_DARK = ("group_scale", "dq_init", "saturation", "ipc", "firstframe", "reset", "linearity",
             "rscd", "lastframe")
GUIDER = ("dq_init", "guider_cds", "flat_field")
#: calwebb_image2 (jwst_spec 4.1); resample makes the single-exposure ``_i2d`` beside the ``_cal``.
IMAGE2 = ("background", "assign_wcs", "flat_field", "photom", "resample")
#: calwebb_tso3 for imaging (outlier_detection in its tso mode); the spectroscopic branch is not
#: implemented (streamcal.pipelines.tso3).
TSO3 = ("outlier_detection", "tso_photometry")
#: calwebb_coron3 (jwst 3.0 order; outlier_detection in its coron mode), streamcal.pipelines.coron3.
CORON3 = ("stack_refs", "align_refs", "klip", "outlier_detection", "resample")
IMAGE3 = ("assign_mtwcs", "tweakreg", "skymatch", "outlier_detection", "resample", "source_catalog")


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline.

    Attributes
    ----------
    name : str
        jwst configuration name (``calwebb_detector1``).
    nir_steps, miri_steps : tuple of str
        Step order for near-IR detectors and for MIRI.
    output : str
        ``"rate"`` (rate + rateints), ``"dark"`` (4-D ``_dark``), ``"guider"`` (3-D ``_cal``) or
        ``"cal"`` (stage 2: cal/calints, optional bsub, i2d).
    default_skips : frozenset of str
        Steps this pipeline skips unless the user turns them on (``--set STEP.skip=false``).
    miri_default_skips : frozenset of str
        Additional default skips for MIRI.
    stage : int
        1 (input: raw ramps) or 2 (input: rate/rateints or a level-2 ASN).
    """

    name: str
    nir_steps: tuple[str, ...]
    miri_steps: tuple[str, ...]
    output: str
    default_skips: frozenset[str] = field(default_factory=frozenset)
    miri_default_skips: frozenset[str] = field(default_factory=frozenset)
    stage: int = 1

    def steps_for(self, instrument: str) -> tuple[str, ...]:
        return self.miri_steps if instrument.upper() == "MIRI" else self.nir_steps

    def skips_for(self, instrument: str) -> frozenset[str]:
        extra = self.miri_default_skips if instrument.upper() == "MIRI" else frozenset()
        return self.default_skips | extra


PIPELINES: dict[str, PipelineSpec] = {
    spec.name: spec
    for spec in (
        PipelineSpec("calwebb_detector1", NIR_DETECTOR1, MIRI_DETECTOR1, "rate",
                     miri_default_skips=frozenset({"refpix"})),
        # TSO parameter set: the seed skips ipc, lastframe, persistence; jwst also firstframe, rscd.
        PipelineSpec("calwebb_tso1", NIR_DETECTOR1, MIRI_DETECTOR1, "rate",
                     default_skips=frozenset({"ipc", "lastframe", "persistence", "firstframe", "rscd"}),
                     miri_default_skips=frozenset({"refpix"})),
        PipelineSpec("calwebb_dark", NIR_DARK, MIRI_DARK, "dark",
                     miri_default_skips=frozenset({"refpix"})),
        PipelineSpec("calwebb_guider", GUIDER, GUIDER, "guider"),
        PipelineSpec("calwebb_image2", IMAGE2, IMAGE2, "cal", stage=2),
        PipelineSpec("calwebb_image3", IMAGE3, IMAGE3, "i2d", stage=3),
        PipelineSpec("calwebb_tso3", TSO3, TSO3, "phot", stage=3),
        PipelineSpec("calwebb_coron3", CORON3, CORON3, "i2d", stage=3),
    )
}

def pipeline_for(name: str) -> PipelineSpec:
    """The step list of a pipeline by any of its names (``detector1``, ``calwebb_detector1``,
    ``calwebb_dark1`` ...).

    Raises
    ------
    NotImplementedStepError
        For a pipeline of the registry without an engine yet.
    ValueError
        For a name that is no pipeline at all (the message lists the known ones).
    """
    entry = registry.entry(name)
    if not entry.implemented:
        raise NotImplementedStepError(f"pipeline {entry.name} is not implemented yet (stage {entry.stage})")
    return PIPELINES[entry.name]


def validate_step_values(pipeline: str, steps) -> None:
    """Check ``{step: {parameter: value}}`` against a pipeline's steps and their parameters (both
    instrument families), so a configuration file fails at start, not exposure by exposure.

    Raises
    ------
    ValueError
        An unknown step or parameter, or a value of the wrong type; the message names it.
    """
    from ..steps import get_step
    from ..steps.base import StepParams, make_params

    spec = pipeline_for(pipeline)
    known = set(spec.nir_steps) | set(spec.miri_steps)
    unknown = set(steps) - known
    if unknown:
        raise ValueError(f"{spec.name} has no step(s) {', '.join(sorted(unknown))}; steps: {', '.join(sorted(known))}")
    for step, values in steps.items():
        try:
            params = get_step(step).Params
        except KeyError:
            params = StepParams
        make_params(params, step, dict(values))
