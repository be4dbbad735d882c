"""One step on one file, as jwst's ``strun`` runs it: ``streamcal step STEP INPUT --out DIR``.

The input is read as the model the step takes — a raw exposure (``_uncal``, or any 4-D ramp)
as a ramp for the stage-1 steps up to ramp_fit, a ``_rate``/``_rateints``/``_cal``/``_calints``
file as an image for gain_scale (after ramp_fit) and the stage-2 steps — and the step's output
is written as ``<root>_<step>.fits`` (jwst names a single step's output after the step), with
the per-integration image of ramp_fit as ``<root>_<step>ints.fits``.  Parameters use jwst's
names; reference files come from the reference set (``--refs``/``--override``) as in a
pipeline, and the product's PROVENANCE records the step, its parameters and its references.
Steps that need several exposures at once (stage 3) take an association through their
pipeline instead: ``streamcal calibrate ASN``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..fitsio import read_cal, read_raw
from ..models import ImageModel, RampFitOutput, RampModel
from ..provenance import Provenance, sha256_file
from ..sinks.products import ProductSink, product_sink
from ..steps.base import make_params
from .runner import PipelineResult, Product, run_steps, step_module

__all__ = ["RAMP_STEPS", "run_single_step"]

#: Steps that take a ramp (a raw exposure); every other single step takes an image.
RAMP_STEPS = frozenset({"group_scale", "dq_init", "saturation", "ipc", "superbias", "refpix", "linearity",
                        "persistence", "dark_current", "charge_migration", "jump", "ramp_fit", "firstframe",
                        "lastframe", "reset", "rscd"})
#: Steps of the stage-3 pipelines: they combine exposures, so they run on associations.
ASSOCIATION_STEPS = frozenset({"tweakreg", "skymatch", "outlier_detection", "source_catalog",
                               "tso_photometry"})


def _read_input(step: str, path: Path):
    """The input as the model ``step`` takes; a product of the wrong level is a BadInputError."""
    if step in RAMP_STEPS:
        return read_raw(path)
    return read_cal(path)


def _products(step: str, model) -> list[Product]:
    if isinstance(model, RampModel):
        return [Product(step, model, "RampModel")]
    if isinstance(model, RampFitOutput):
        out = [Product(step, model.rate, "ImageModel")]
        if model.rateints is not None:
            out.append(Product(f"{step}ints", model.rateints, "CubeModel"))
        return out
    if isinstance(model, ImageModel):
        return [Product(step, model, "CubeModel" if model.data.ndim == 3 else "ImageModel")]
    raise TypeError(f"{step} returned a {type(model).__name__}, which streamcal step cannot write")


def run_single_step(step: str, path: str | Path, out: str | os.PathLike | ProductSink, refs,
                    values: Mapping[str, Any] | None = None) -> list[Path]:
    """Run one calibration step on one file and write its output.

    Parameters
    ----------
    step : str
        jwst step name (``dq_init``, ``jump``, ``flat_field`` ...).
    path : str or Path
        The input file: a raw exposure for the ramp steps (:data:`RAMP_STEPS`), a
        ``_rate``/``_rateints``/``_cal``/``_calints`` file for the others.
    out : directory or ProductSink
    refs : streamcal.refs.ReferenceSet
    values : mapping, optional
        ``{parameter: value}`` with jwst's parameter names (strings are converted).

    Returns
    -------
    list of Path
        ``<root>_<step>.fits`` (and ``<root>_<step>ints.fits`` for ramp_fit's per-integration rates).

    Raises
    ------
    ValueError
        An unknown step, parameter or value (the message names it), or a stage-3 step.
    BadInputError
        The file is unusable for this step.
    """
    path = Path(path)
    if step in ASSOCIATION_STEPS:
        raise ValueError(f"{step} combines exposures: run its pipeline on an association "
                         "(streamcal calibrate ASN)")
    try:
        module = step_module(step)
    except Exception as exc:
        raise ValueError(str(exc)) from None
    params = make_params(module.Params, step, dict(values or {}))
    model = _read_input(step, path)
    prov = Provenance(f"step:{step}", path.name, sha256_file(path))
    result, keywords = run_steps((step,), model, refs, {step: params}, prov)
    products = _products(step, result)
    for product in products:
        product.model.header.update(keywords)
    return product_sink(out).write(PipelineResult(f"step:{step}", products, prov), path.name)
