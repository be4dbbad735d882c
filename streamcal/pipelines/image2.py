"""calwebb_image2: count-rate images -> calibrated ``_cal``/``_calints`` (+ ``_bsub``, ``_i2d``).

Steps (jwst_spec 4.1): background -> assign_wcs -> flat_field -> photom -> resample, through
the step loop stage 1 uses (:func:`streamcal.pipelines.runner.run_steps`).  Mode rules of
jwst 3.0's ``Image2Pipeline``:

- background runs only when the level-2 association has background members (``backgrounds=``);
  TSO exposures (calwebb_tso-image2) skip it, and resample;
- resample (a single-exposure quick-look ``_i2d``, not used by stage 3) only for the imaging
  EXP_TYPEs MIR_IMAGE, NRC_IMAGE, NIS_IMAGE and FGS_IMAGE (jwst 3.0's ``image_exptypes``) and
  2-D data; target acquisitions, focus, NIRSpec imaging and rateints get no ``_i2d``;
- a 3-D input (``_rateints``) is calibrated plane by plane into ``_calints``.

Input: a ``_rate``/``_rateints`` file, or a level-2 ASN (JSON) with one product whose members
are one ``science`` exposure and any number of ``background`` exposures, named relative to the
ASN file and resolved only inside the allowed directories (default: the ASN's own).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import router
from ..associations.asn import AsnError, read_asn, resolve_member
from ..errors import BadInputError
from ..fitsio import read_cal
from ..models import ImageModel, product_name
from ..provenance import Provenance, StepRecord, sha256_file
from ..sinks.products import ProductSink, product_sink
from .definitions import pipeline_for
from .runner import (CalibrationOptions, PipelineResult, Product, resolve_params, run_steps,
                     status_keyword)

#: EXP_TYPEs whose image2 makes a single-exposure ``_i2d`` (jwst 3.0 Image2Pipeline.image_exptypes).
RESAMPLE_EXP_TYPES = frozenset({"MIR_IMAGE", "NRC_IMAGE", "NIS_IMAGE", "FGS_IMAGE"})
#: Largest level-2 ASN file read (they are a few kB).
MAX_ASN_BYTES = 1 << 20


@dataclass(frozen=True)
class Image2Inputs:
    """What one image2 run reads: the science exposure and its background exposures."""

    science: Path
    backgrounds: tuple[Path, ...] = ()
    asn: Path | None = None


# ------------------------------------------------------------------------------ inputs

def read_level2_asn(path: str | Path, allowed_roots: Sequence[str | Path] | None = None) -> Image2Inputs:
    """The science and background members of a level-2 ASN with one product.

    Members are resolved relative to the ASN file and must stay inside ``allowed_roots``
    (default: the ASN's own directory), symlinks followed
    (:func:`streamcal.associations.resolve_member`).

    Raises
    ------
    BadInputError
        Not a valid ASN, too large, not one product, not exactly one science member, or a
        member outside the allowed directories.
    """
    path = Path(path)
    roots = list(allowed_roots) if allowed_roots is not None else [path.resolve().parent]
    try:
        if path.stat().st_size > MAX_ASN_BYTES:
            raise AsnError(f"{path.stat().st_size} bytes is too large for an association")
        products = read_asn(path)["products"]
        if len(products) != 1:
            raise AsnError(f"image2 takes an association with one product, got {len(products)}")
        kinds = [(m["exptype"].strip().lower(), m["expname"]) for m in products[0]["members"]]
        science = [resolve_member(path, name, roots) for kind, name in kinds if kind == "science"]
        backgrounds = tuple(resolve_member(path, name, roots) for kind, name in kinds if kind == "background")
    except (AsnError, OSError) as exc:
        raise BadInputError(path, "asn", f"not a usable level-2 association: {exc}") from None
    if len(science) != 1:
        raise BadInputError(path, "asn", f"a level-2 product needs exactly one science member, got {len(science)}")
    return Image2Inputs(science[0], backgrounds, path)


def _read_background(path: Path, science: ImageModel) -> ImageModel:
    model = read_cal(path)
    if model.meta.detector != science.meta.detector:
        raise BadInputError(path, "background", f"background on {model.meta.detector}, the science "
                                                 f"exposure on {science.meta.detector}")
    return model


# ------------------------------------------------------------------------------ pipeline

def _copy_image(model: ImageModel) -> ImageModel:
    """An independent copy (the steps after background change arrays in place)."""
    arrays = {k: (None if getattr(model, k) is None else np.array(getattr(model, k)))
              for k in ("data", "err", "dq", "var_poisson", "var_rnoise", "var_flat", "area")}
    return replace(model, header=model.header.copy(), sci_header=model.sci_header.copy(), **arrays)


def _not_applicable(name: str, note: str) -> StepRecord:
    return StepRecord(name=name, status="SKIPPED", status_keyword=status_keyword(name), note=note)


def _route(model: ImageModel, options: CalibrationOptions, input_name: str) -> router.Route | None:
    try:
        route = router.route(model.header)
    except KeyError as exc:
        if options.pipeline is None:
            raise BadInputError(input_name, "exp_type", str(exc.args[0])) from None
        return None
    if options.pipeline is None and route.stage2 != "calwebb_image2":
        if route.stage2 is None:
            raise BadInputError(input_name, "route", f"EXP_TYPE {route.exp_type} has no stage 2")
        pipeline_for(route.stage2)  # NotImplementedStepError for the stage-2 pipelines still to come
    return route


def resample_applies(model: ImageModel, tso: bool) -> str:
    """Why no ``_i2d`` is made ("" when it is)."""
    if tso:
        return "TSO exposure (calwebb_tso-image2 skips resample)"
    if model.data.ndim != 2:
        return "per-integration input (calints): no single-exposure i2d"
    if model.meta.exp_type not in RESAMPLE_EXP_TYPES:
        return f"no i2d for {model.meta.exp_type} (image2 resamples {', '.join(sorted(RESAMPLE_EXP_TYPES))})"
    return ""


def run_image2(model: ImageModel, refs, options: CalibrationOptions = CalibrationOptions(), *,
               backgrounds: Sequence[ImageModel] = (), input_name: str = "",
               input_sha256: str = "") -> PipelineResult:
    """Run calwebb_image2 on a rate/rateints image in memory.

    Parameters
    ----------
    model : ImageModel
        The ``_rate`` (2-D) or ``_rateints`` (3-D) exposure, DN/s; modified in place.
    refs : streamcal.refs.ReferenceSet
    options : CalibrationOptions
        ``skip``/``step_values`` name image2 steps (``background.sigma``, ``resample.pixfrac``).
    backgrounds : sequence of ImageModel
        Background exposures of the level-2 association (DN/s).

    Returns
    -------
    PipelineResult
        ``cal``/``calints``, ``bsub``/``bsubints`` when ``background.save_results`` and a
        background was subtracted, ``i2d`` when resample applies.
    """
    input_name = input_name or model.meta.filename
    route = _route(model, options, input_name)
    tso = bool(route and route.tso)
    spec = pipeline_for(options.pipeline or "calwebb_image2")
    params = resolve_params(spec, model.meta.instrument, options)
    prov = Provenance(spec.name, input_name, input_sha256)
    cube = model.data.ndim == 3
    products: list[Product] = []

    def after(name: str, current) -> None:
        if name == "background" and params[name].save_results and prov.steps[-1].status == "COMPLETE":
            products.append(Product("bsubints" if cube else "bsub", _copy_image(current),
                                    "CubeModel" if cube else "ImageModel"))

    names = [n for n in spec.steps_for(model.meta.instrument) if n != "resample" and not (tso and n == "background")]
    if tso:
        prov.steps.append(_not_applicable("background", "TSO exposure (calwebb_tso-image2 skips background)"))
    cal, keywords = run_steps(names, model, refs, params, prov,
                              inputs={"background": {"backgrounds": tuple(backgrounds)}}, after=after)
    products.insert(0, Product("calints" if cube else "cal", cal, "CubeModel" if cube else "ImageModel"))
    why_not = resample_applies(cal, tso)
    if why_not:
        prov.steps.append(_not_applicable("resample", why_not))
    else:
        mosaic, more = run_steps(("resample",), cal, refs, params, prov)
        keywords.update(more)
        if mosaic is not cal:
            products.append(Product("i2d", mosaic, "ImageModel"))
    for product in products:
        product.model.header.update(keywords)
    return PipelineResult(spec.name, products, prov)


def calibrate_image2_file(path: str | Path, out: str | os.PathLike | ProductSink, refs,
                          options: CalibrationOptions = CalibrationOptions(),
                          backgrounds: Sequence[str | Path] = (), *,
                          allowed_roots: Sequence[str | Path] | None = None,
                          tweakreg_catalog: bool = False) -> list[Path]:
    """Read a ``_rate``/``_rateints`` file (or a level-2 ASN), run calwebb_image2, write the
    products (``<root>_cal.fits`` ...) into ``out`` (a directory or a
    :class:`~streamcal.sinks.products.ProductSink`), all or nothing.

    Parameters
    ----------
    path : str or Path
        The science exposure, or a level-2 ASN JSON (its background members are used).
    backgrounds : sequence of path
        More background exposures (besides those of an ASN).
    allowed_roots : sequence of path, optional
        Directories ASN members may live in (default: the ASN's directory).
    tweakreg_catalog : bool
        Also write the exposure's tweakreg source catalog, ``<root>_cat.ecsv`` (jwst tweakreg's
        ``save_catalogs`` name), for a 2-D ``cal`` with a WCS: the stream makes it while the
        other members of the association are still landing, and image3 uses it through the
        member's ``tweakreg_catalog`` (``tweakreg.use_custom_catalogs``).

    Raises
    ------
    BadInputError
        An input file or the ASN is unusable; nothing is written.
    """
    path, sink = Path(path), product_sink(out)
    inputs = read_level2_asn(path, allowed_roots) if path.suffix.lower() == ".json" else Image2Inputs(path)
    science = read_cal(inputs.science)
    if inputs.asn is not None:
        science.header["ASNTABLE"] = (inputs.asn.name, "level-2 association this product came from")
    bkg = [_read_background(Path(p), science) for p in (*inputs.backgrounds, *backgrounds)]
    sha = sha256_file(inputs.science)
    result = run_image2(science, refs, options, backgrounds=bkg, input_name=inputs.science.name,
                        input_sha256=sha)
    written = sink.write(result, inputs.science.name)
    cal = next((p.model for p in result.products if p.suffix == "cal"), None)
    if tweakreg_catalog and cal is not None and cal.wcs is not None and cal.data.ndim == 2:
        name = Path(product_name(inputs.science.name, "cat")).with_suffix(".ecsv").name
        written.append(sink.put(name, lambda path: write_tweakreg_catalog(cal, path, result.provenance)))
    return written


def write_tweakreg_catalog(cal: ImageModel, path: Path, provenance) -> Path:
    """tweakreg's source catalog of one ``cal`` image (default finder settings), as ECSV."""
    from ..sinks.catalogs import write_catalog_ecsv
    from ..steps.tweakreg import Params, image_catalog

    catalog = image_catalog(cal, Params().finder())
    return write_catalog_ecsv(catalog, path, {"SC_VER": provenance.version, "SC_PIPE": "tweakreg"})
