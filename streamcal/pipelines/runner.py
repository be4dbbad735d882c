"""Run a pipeline on one exposure in memory (:func:`run_pipeline` for stage 1; stage 2 and 3 in
:mod:`.image2` and :mod:`.image3`), sharing the step loop (:func:`run_steps`).  Products go to a
:class:`streamcal.sinks.products.ProductSink`; :mod:`.files` runs a file through the pipeline it
needs.  Plain Python: the same functions run in a test, the CLI or a Ray actor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

from .. import boundary, router
from ..errors import BadInputError, NotImplementedStepError, ReferenceFileError
from ..models import ImageModel, MosaicModel, RampModel
from ..provenance import Provenance, StepRecord
from ..steps import get_step
from ..steps.base import StepParams, make_params, params_dict, skipped
from .definitions import PipelineSpec, pipeline_for

#: Steps that cannot be skipped for want of a reference file: without them there is no product.
_ESSENTIAL = frozenset({"jump", "ramp_fit", "guider_cds"})


@dataclass(frozen=True)
class CalibrationOptions:
    """What a user can set, jwst-style.

    Attributes
    ----------
    pipeline : str or None
        Force a pipeline; ``None`` routes by EXP_TYPE.
    skip : frozenset of str
        Steps to skip (``--skip refpix``).
    step_values : mapping
        ``{step: {param: value}}`` (``--set jump.rejection_threshold=5``); strings are converted.
    save_calibrated_ramp : bool
        Also write the ``_ramp`` product (the ramp as it enters ramp_fit).
    """

    pipeline: str | None = None
    skip: frozenset[str] = frozenset()
    step_values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    save_calibrated_ramp: bool = False


@dataclass
class Product:
    """One product to write: its suffix, its model and the jwst datamodel name."""

    suffix: str
    model: ImageModel | RampModel | MosaicModel
    datamodel: str


@dataclass
class PipelineResult:
    pipeline: str
    products: list[Product]
    provenance: Provenance


def resolve_params(spec: PipelineSpec, instrument: str, options: CalibrationOptions) -> dict[str, StepParams]:
    """Every step's parameters: code defaults < pipeline default skips < user ``--set`` < ``--skip``.

    Raises
    ------
    ValueError
        A ``--set``/``--skip`` names a step that is not in this pipeline, or a bad parameter.
    """
    steps = spec.steps_for(instrument)
    unknown = (set(options.step_values) | set(options.skip)) - set(steps)
    if unknown:
        raise ValueError(f"{spec.name} has no step(s) {', '.join(sorted(unknown))}; steps: {', '.join(steps)}")
    resolved = {}
    for name in steps:
        values: dict[str, Any] = {}
        if name in spec.skips_for(instrument):
            values["skip"] = True
        values.update(options.step_values.get(name, {}))
        if name in options.skip:
            values["skip"] = True
        resolved[name] = make_params(_params_class(name), name, values)
    return resolved


def _params_class(name: str) -> type[StepParams]:
    """A step's ``Params``; the common ones for a step streamcal lacks (it can only be skipped)."""
    try:
        return get_step(name).Params
    except KeyError:
        return StepParams


def _refs_for(step, meta, refs) -> tuple[dict, list[str]]:
    found, missing = {}, []
    for reftype in step.REFTYPES + tuple(getattr(step, "OPTIONAL_REFTYPES", ())):
        ref = refs.get(reftype, meta)
        if ref is not None:
            found[reftype] = ref
        elif reftype in step.REFTYPES:
            missing.append(reftype)
    return found, missing


def step_module(name: str):
    """The step module, or :class:`NotImplementedStepError` naming the step when streamcal has
    none of that name (a pipeline that lists it can still run with the step skipped)."""
    try:
        return get_step(name)
    except KeyError:
        raise NotImplementedStepError(f"step {name} is not implemented") from None


def _run_step(name: str, model, refs, params: StepParams, inputs: Mapping[str, Any]):
    """One step with its provenance record.  Order: skip by parameter, the step's own
    ``check_supported(meta)`` (raises for modes it cannot do), reference lookup, ``run``."""
    step = step_module(name) if not params.skip else None
    record = StepRecord(name=name, status="SKIPPED", parameters=params_dict(params),
                        status_keyword=step.STATUS_KEYWORD if step else status_keyword(name))
    if params.skip:
        record.note = "skipped by parameter"
        return model, record, {}
    if hasattr(step, "check_supported"):
        step.check_supported(model.meta)
    found, missing = _refs_for(step, model.meta, refs)
    frame = _frame_shape(model)
    if frame is not None:  # once here, for every step: no kernel ever indexes data with a misfit reference
        boundary.check_reference_arrays(found, frame, name)
    record.reffiles = {k: v.path for k, v in found.items()}
    if missing:
        if name in _ESSENTIAL:
            raise ReferenceFileError(f"{name}: no {', '.join(missing)} reference file for "
                                     f"{model.meta.instrument} {model.meta.detector} {model.meta.subarray}")
        record.note = skipped(f"no {', '.join(missing)} reference file applies (N/A)").note
        return model, record, {}
    start = time.perf_counter()
    model, report = step.run(model, found, params, **inputs)
    record.seconds = time.perf_counter() - start
    record.status, record.note = report.status, report.note
    return model, record, dict(report.keywords)


def _frame_shape(model) -> tuple[int, int] | None:
    """``(ny, nx)`` of the data a step gets (a ramp, an image, ramp_fit's output); None for
    inputs without one frame (image3's lists of models)."""
    data = getattr(model, "data", None)
    if data is None and hasattr(model, "rate"):
        data = model.rate.data
    return tuple(data.shape[-2:]) if getattr(data, "ndim", 0) >= 2 else None


def check_ramp(ramp: RampModel, source: str, budget: int | None = None) -> None:
    """What stage 1 checks before its first step: the ramp's arrays agree with each other and
    its frame with the header's window (which cuts the references), NIRSpec IRS2 frames (not
    implemented) are refused, and the stage's working set
    (:data:`streamcal.boundary.STAGE1_WORKING_SET` times the float32 ramp) fits the budget.

    Raises
    ------
    BadInputError
        Arrays that disagree, or a working set over the budget.
    NotImplementedStepError
        An IRS2 readout.
    """
    boundary.check_ramp_arrays(source, ramp)
    if ramp.meta.readpatt.startswith("NRSIRS2") and ramp.data.shape[-1] != ramp.meta.subsize1:
        raise NotImplementedStepError(f"{source}: NIRSpec IRS2 readouts ({ramp.meta.readpatt}) are not implemented")
    boundary.check_frame(source, ramp.meta, ramp.data.shape[-2:])
    boundary.check_budget(source, f"calibrating a ramp of shape {ramp.data.shape}",
                          boundary.STAGE1_WORKING_SET * 4.0 * ramp.data.size, budget)


def status_keyword(name: str) -> str:
    """The jwst ``S_*`` keyword of a step (a made-up one for a step streamcal lacks)."""
    try:
        return get_step(name).STATUS_KEYWORD
    except KeyError:
        return f"S_{name[:6].upper()}"


def run_steps(names: Sequence[str], model, refs, params: Mapping[str, StepParams], prov: Provenance, *,
              inputs: Mapping[str, Mapping[str, Any]] | None = None,
              before: Callable[[str, Any, StepParams], StepParams] | None = None,
              after: Callable[[str, Any], None] | None = None) -> tuple[Any, dict[str, Any]]:
    """The step loop every pipeline shares: run ``names`` in order on ``model``.

    Parameters
    ----------
    names : sequence of str
        jwst step names, in order.
    model
        What the first step takes (RampModel, ImageModel); each step returns the next one.
    refs : ReferenceSet
    params : mapping
        Resolved parameters per step (:func:`resolve_params`).
    prov : Provenance
        Gets one :class:`StepRecord` per step, run or skipped.
    inputs : mapping, optional
        Extra keyword arguments per step (``{"background": {"backgrounds": [...]}}``).
    before : callable, optional
        ``before(name, model, params) -> params``: last look before a step runs (save an
        intermediate product, change a parameter that depends on the model).
    after : callable, optional
        ``after(name, model)`` once a step has run.

    Returns
    -------
    model, keywords
        The last step's model; header keywords the steps asked for.
    """
    keywords: dict[str, Any] = {}
    for name in names:
        step_params = before(name, model, params[name]) if before else params[name]
        model, record, step_keywords = _run_step(name, model, refs, step_params, (inputs or {}).get(name, {}))
        prov.steps.append(record)
        keywords.update(step_keywords)
        if after:
            after(name, model)
    return model, keywords


def _products(spec: PipelineSpec, model, route_tso: bool) -> list[Product]:
    if spec.output == "dark":
        return [Product("dark", model, "RampModel")]
    if spec.output == "guider":
        return [Product("cal", model, "GuiderCalModel")]
    if isinstance(model, RampModel):  # ramp_fit skipped: jwst then saves the ramp itself
        return [Product("ramp", model, "RampModel")]
    out = [Product("rate", model.rate, "ImageModel")]
    if model.rateints is not None and (model.rate.meta.nints > 1 or route_tso):
        out.append(Product("rateints", model.rateints, "CubeModel"))
    return out


def run_pipeline(ramp: RampModel, refs, options: CalibrationOptions = CalibrationOptions(), *,
                 input_name: str = "", input_sha256: str = "", budget: int | None = None) -> PipelineResult:
    """Run the stage-1 pipeline an exposure calls for, in memory.

    Parameters
    ----------
    ramp : RampModel
        The raw exposure; its arrays are modified in place by the steps.
    refs : streamcal.refs.ReferenceSet
        Where reference files come from.
    options : CalibrationOptions
        Pipeline choice and step parameters.
    budget : int, optional
        Bytes the run may use; default the process's memory budget.

    Returns
    -------
    PipelineResult
        Products (not yet written) and the provenance record.

    Raises
    ------
    BadInputError
        EXP_TYPE not routable, arrays that disagree, more memory than the budget.
    """
    check_ramp(ramp, input_name or ramp.meta.filename, budget)
    try:
        route = router.route(ramp.header)
    except KeyError as exc:
        if options.pipeline is None:
            raise BadInputError(input_name or ramp.meta.filename, "exp_type", str(exc.args[0])) from None
        route = None
    spec = pipeline_for(options.pipeline or route.stage1)
    if spec.stage != 1:
        raise BadInputError(input_name or ramp.meta.filename, "pipeline",
                            f"{spec.name} calibrates _rate/_rateints products, not a raw exposure")
    params = resolve_params(spec, ramp.meta.instrument, options)
    prov = Provenance(spec.name, input_name or ramp.meta.filename, input_sha256)
    extra_products: list[Product] = []

    def before(name: str, model, step_params: StepParams) -> StepParams:
        if name == "ramp_fit" and options.save_calibrated_ramp and not step_params.skip:
            extra_products.append(Product("ramp", model, "RampModel"))
        if name == "gain_scale" and isinstance(model, RampModel):
            return replace(step_params, skip=True)  # nothing to scale without ramp_fit
        return step_params

    model, keywords = run_steps(spec.steps_for(ramp.meta.instrument), ramp, refs, params, prov, before=before)
    products = _products(spec, model, bool(route and route.tso)) + extra_products
    for product in products:
        product.model.header.update(keywords)
    return PipelineResult(spec.name, products, prov)
