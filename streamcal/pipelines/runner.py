"""Run a stage-1 pipeline on one exposure: in memory (:func:`run_pipeline`) or file to files
(:func:`calibrate_file`).  Plain Python: the same functions run in a test, the CLI or a Ray actor."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from .. import router
from ..errors import BadInputError, ReferenceFileError
from ..fitsio import read_raw, write_image, write_ramp
from ..models import ImageModel, RampFitOutput, RampModel, product_name
from ..provenance import Provenance, StepRecord, sha256_file
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
    model: ImageModel | RampModel
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
        resolved[name] = make_params(get_step(name).Params, name, values)
    return resolved


def _refs_for(step, meta, refs) -> tuple[dict, list[str]]:
    found, missing = {}, []
    for reftype in step.REFTYPES + tuple(getattr(step, "OPTIONAL_REFTYPES", ())):
        ref = refs.get(reftype, meta)
        if ref is not None:
            found[reftype] = ref
        elif reftype in step.REFTYPES:
            missing.append(reftype)
    return found, missing


def _run_step(name: str, model, refs, params: StepParams):
    step = get_step(name)
    record = StepRecord(name=name, status="SKIPPED", status_keyword=step.STATUS_KEYWORD,
                        parameters=params_dict(params))
    if params.skip:
        record.note = "skipped by parameter"
        return model, record, {}
    found, missing = _refs_for(step, model.meta, refs)
    record.reffiles = {k: v.path for k, v in found.items()}
    if missing:
        if name in _ESSENTIAL:
            raise ReferenceFileError(f"{name}: no {', '.join(missing)} reference file for "
                                     f"{model.meta.instrument} {model.meta.detector} {model.meta.subarray}")
        record.note = skipped(f"no {', '.join(missing)} reference file applies (N/A)").note
        return model, record, {}
    start = time.perf_counter()
    model, report = step.run(model, found, params)
    record.seconds = time.perf_counter() - start
    record.status, record.note = report.status, report.note
    return model, record, dict(report.keywords)


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
                 input_name: str = "", input_sha256: str = "") -> PipelineResult:
    """Run the stage-1 pipeline an exposure calls for, in memory.

    Parameters
    ----------
    ramp : RampModel
        The raw exposure; its arrays are modified in place by the steps.
    refs : streamcal.refs.ReferenceSet
        Where reference files come from.
    options : CalibrationOptions
        Pipeline choice and step parameters.

    Returns
    -------
    PipelineResult
        Products (not yet written) and the provenance record.
    """
    try:
        route = router.route(ramp.header)
    except KeyError as exc:
        if options.pipeline is None:
            raise BadInputError(input_name or ramp.meta.filename, "exp_type", str(exc.args[0])) from None
        route = None
    spec = pipeline_for(options.pipeline or route.stage1)
    params = resolve_params(spec, ramp.meta.instrument, options)
    prov = Provenance(spec.name, input_name or ramp.meta.filename, input_sha256)
    model: Any = ramp
    extra_products: list[Product] = []
    keywords: dict[str, Any] = {}
    for name in spec.steps_for(ramp.meta.instrument):
        if name == "ramp_fit" and options.save_calibrated_ramp and not params[name].skip:
            extra_products.append(Product("ramp", model, "RampModel"))
        if name == "gain_scale" and isinstance(model, RampModel):
            params[name] = replace(params[name], skip=True)  # nothing to scale without ramp_fit
        model, record, step_keywords = _run_step(name, model, refs, params[name])
        prov.steps.append(record)
        keywords.update(step_keywords)
    products = _products(spec, model, bool(route and route.tso)) + extra_products
    for product in products:
        product.model.header.update(keywords)
    return PipelineResult(spec.name, products, prov)


def write_products(result: PipelineResult, input_name: str, out_dir: str | Path) -> list[Path]:
    """Write every product of a run, all or nothing: if one write fails, the ones already
    written by this call are removed."""
    written: list[Path] = []
    try:
        for product in result.products:
            path = Path(out_dir) / product_name(Path(input_name).name, product.suffix)
            if isinstance(product.model, RampModel):
                written.append(write_ramp(product.model, path, result.provenance))
            else:
                written.append(write_image(product.model, path, result.provenance, product.datamodel))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def calibrate_file(path: str | Path, out_dir: str | Path, refs, options: CalibrationOptions = CalibrationOptions()) -> list[Path]:
    """Read a raw exposure, run its stage-1 pipeline, write the products into ``out_dir``.

    Returns
    -------
    list of Path
        The products written (``<root>_rate.fits``, ``<root>_rateints.fits``, ...).

    Raises
    ------
    BadInputError
        The file is unusable; nothing is written.
    """
    path = Path(path)
    sha = sha256_file(path) if path.is_file() else ""
    ramp = read_raw(path)
    result = run_pipeline(ramp, refs, options, input_name=path.name, input_sha256=sha)
    return write_products(result, path.name, out_dir)
