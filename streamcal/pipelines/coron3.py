"""calwebb_coron3: a coronagraphic association's ``_calints`` -> PSF stack, per science member
the aligned PSFs and the PSF-subtracted cube, and one combined image (spectroscopy.md §5;
jwst 3.0 ``Coron3Pipeline``).

1. Each PSF member: outlier_detection (``coron`` mode) -> ``<root>_<acid>_crfints``.
2. stack_refs: every PSF integration in one cube -> ``<product>_psfstack`` (CubeModel).
3. Each science member: outlier_detection (``coron``) -> ``_crfints``; align_refs against its
   first integration with the PSFMASK -> ``<root>_<acid>_psfalign`` (CubeModel, as jwst 3.0
   writes it); klip on the bad-pixel-replaced science cube -> ``<root>_<acid>_psfsub``
   (CubeModel).
4. Every integration of every ``_psfsub`` becomes a 2-D image (the exposure's WCS) and resample
   drizzles them into ``<product>_i2d``.

Only reference type: PSFMASK (read per science member, as jwst prefetches per member).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
from astropy.io import fits

from ..associations import AsnError, read_asn, resolve_member
from ..associations.buffer import exposure_root
from ..errors import BadInputError, ReferenceFileError
from ..fitsio import read_cal, write_image, write_mosaic
from ..models import ImageModel, MosaicModel
from ..provenance import Provenance, StepRecord, sha256_file
from ..sinks.products import ProductSink, product_sink
from ..steps import align_refs, klip, outlier_detection, resample, stack_refs
from ..steps.base import StepReport, params_dict
from .definitions import PIPELINES
from .image3 import MAX_ASN_BYTES
from .runner import CalibrationOptions, resolve_params
from .tso3 import _put_all, crfints_name

SPEC = PIPELINES["calwebb_coron3"]

__all__ = ["ScienceProducts", "Coron3Result", "run_coron3", "write_coron3", "read_coron3_asn",
           "calibrate_coron3_file", "integration_images", "member_product_name"]


@dataclass
class ScienceProducts:
    """What one science member yields.

    Attributes
    ----------
    crfints, psfalign, psfsub : ImageModel
        3-D cubes (``crfints`` is None when outlier_detection was skipped).
    shifts : ndarray (npsf, 3) or None
        align_refs' (dx, dy, beta) per PSF plane (None when it was skipped).
    """

    crfints: ImageModel | None
    psfalign: ImageModel
    psfsub: ImageModel
    shifts: np.ndarray | None


@dataclass
class Coron3Result:
    """One calwebb_coron3 run (not yet written)."""

    product: str
    psfstack: ImageModel
    psf_crfints: list[ImageModel]
    science: list[ScienceProducts]
    mosaic: MosaicModel | None
    provenance: Provenance
    missing: list[str] = field(default_factory=list)


def _record(module, params, report: StepReport, what: str, seconds: float, reffiles=None) -> StepRecord:
    record = StepRecord(name=module.NAME, status=report.status, status_keyword=module.STATUS_KEYWORD,
                        parameters=params_dict(params), note=f"{what}: {report.note}" if what else report.note)
    record.seconds = seconds
    record.reffiles = reffiles or {}
    return record


def _outliers(model: ImageModel, params, prov: Provenance) -> tuple[ImageModel, ImageModel | None]:
    """(cube for the next step, crfints or None)."""
    start = time.perf_counter()
    out, report = outlier_detection.detect_coron_outliers(model, params)
    prov.steps.append(_record(outlier_detection, params, report, model.meta.filename, time.perf_counter() - start))
    if report.status != "COMPLETE":
        return model, None
    out.header[outlier_detection.STATUS_KEYWORD] = "COMPLETE"
    return out, out


def integration_images(cube: ImageModel) -> list[ImageModel]:
    """Every integration of a cube as a 2-D model with the exposure's WCS and header (jwst's
    ``to_container``)."""
    def plane(array, k):
        return None if array is None else (array[k] if array.ndim == 3 else array)
    return [replace(cube, data=cube.data[k], err=cube.err[k], dq=cube.dq[k],
                    var_poisson=plane(cube.var_poisson, k), var_rnoise=plane(cube.var_rnoise, k),
                    var_flat=plane(cube.var_flat, k), int_times=None) for k in range(cube.data.shape[0])]


def _psfmask(refs, meta) -> tuple[np.ndarray | None, dict]:
    """The PSFMASK SCI for an exposure, cut to its window; a file whose window keywords do not
    contain the exposure's but whose SCI has the frame's shape is used whole, as jwst uses
    every PSFMASK (it never cuts one: the real MIRI MASKLYOT file says SUBSTRT2 719 for the
    717 of the exposures)."""
    path = refs.select("psfmask", meta)
    if path is None:
        return None, {}
    try:
        data = np.asarray(refs.get("psfmask", meta).arrays["SCI"])
    except ReferenceFileError:
        data = fits.getdata(path, "SCI")
        if data.shape != (meta.subsize2, meta.subsize1):
            raise
    return np.asarray(data, np.float32), {"psfmask": str(path)}


def run_coron3(science: Sequence[ImageModel], psfs: Sequence[ImageModel], refs,
               options: CalibrationOptions = CalibrationOptions(), *, product: str = "",
               input_name: str = "", input_sha256: str = "", missing: Sequence[str] = ()) -> Coron3Result:
    """Run calwebb_coron3 in memory.

    Parameters
    ----------
    science, psfs : sequence of ImageModel
        3-D ``calints`` of the science and PSF-reference members (SCI/ERR in MJy/sr, DQ uint32,
        WCS for the mosaic); not modified.
    refs : ReferenceSet
        For PSFMASK.
    options : CalibrationOptions
        ``skip`` / ``step_values`` name coron3 steps (``klip.truncate``...).

    Raises
    ------
    ValueError
        No science or no PSF member (jwst aborts), frames of different shapes, a bad parameter.
    """
    science, psfs = list(science), list(psfs)
    if not psfs:
        raise ValueError("calwebb_coron3: no reference PSF members found in the association")
    if not science:
        raise ValueError("calwebb_coron3: no science target members found in the association")
    params = resolve_params(SPEC, science[0].meta.instrument, options)
    prov = Provenance(SPEC.name, input_name or science[0].meta.filename, input_sha256)
    psf_cubes, psf_crf = [], []
    for model in psfs:
        cube, crf = _outliers(model, params["outlier_detection"], prov)
        psf_cubes.append(cube)
        psf_crf += [crf] if crf is not None else []
    start = time.perf_counter()
    stack, report = stack_refs.run(psf_cubes, {}, params["stack_refs"])
    stack.header[stack_refs.STATUS_KEYWORD] = "COMPLETE"
    prov.steps.append(_record(stack_refs, params["stack_refs"], report, "", time.perf_counter() - start))
    products = [_science(model, stack, refs, params, prov) for model in science]
    mosaic = None
    if not params["resample"].skip:
        start = time.perf_counter()
        planes = [image for p in products for image in integration_images(p.psfsub)]
        mosaic = resample.resample_images(planes, params["resample"])
        prov.steps.append(_record(resample, params["resample"], StepReport(note=f"{len(planes)} integrations"),
                                  "", time.perf_counter() - start))
    return Coron3Result(product or exposure_root(science[0].meta.filename), stack, psf_crf, products, mosaic,
                        prov, list(missing))


def _science(model: ImageModel, stack: ImageModel, refs, params, prov: Provenance) -> ScienceProducts:
    name = model.meta.filename
    cube, crf = _outliers(model, params["outlier_detection"], prov)
    mask, reffiles = _psfmask(refs, model.meta)
    start = time.perf_counter()
    aligned, target, alignment, report = align_refs.run(cube, stack, {"psfmask": mask}, params["align_refs"])
    prov.steps.append(_record(align_refs, params["align_refs"], report, name, time.perf_counter() - start, reffiles))
    if report.status == "COMPLETE":
        aligned.header[align_refs.STATUS_KEYWORD] = "COMPLETE"
    start = time.perf_counter()
    sub, report = klip.run(target, aligned, {}, params["klip"])
    prov.steps.append(_record(klip, params["klip"], report, name, time.perf_counter() - start))
    if report.status == "COMPLETE":
        sub.header[klip.STATUS_KEYWORD] = "COMPLETE"
    return ScienceProducts(crf, aligned, sub, alignment.shifts if alignment is not None else None)


def member_product_name(member: str, acid: str, suffix: str) -> str:
    """``jw..._nrcalong_calints.fits``, ``o001``, ``psfsub`` -> ``jw..._nrcalong_o001_psfsub.fits``."""
    root = exposure_root(member)
    return f"{root}_{acid}_{suffix}.fits" if acid else f"{root}_{suffix}.fits"


def _steps(prov: Provenance, *names: str) -> Provenance:
    return replace(prov, steps=[s for s in prov.steps if s.name in names])


def write_coron3(result: Coron3Result, out: str | os.PathLike | ProductSink, *, acid: str = "") -> list[Path]:
    """Write ``_psfstack``, the ``_crfints``, ``_psfalign``, ``_psfsub`` and ``_i2d`` into
    ``out``, all or nothing."""
    sink = product_sink(out)
    prov = result.provenance
    marks = {"ASNPART": (bool(result.missing), "made from a partial association"),
             "ASNMISS": ", ".join(result.missing)}
    items = []

    def cube(model: ImageModel, name: str, provenance: Provenance):
        model.header.update(marks)
        model.header["FILENAME"] = name
        items.append((name, lambda path: write_image(model, path, provenance, "CubeModel")))

    cube(result.psfstack, f"{result.product}_psfstack.fits", _steps(prov, "outlier_detection", "stack_refs"))
    for model in result.psf_crfints + [p.crfints for p in result.science if p.crfints is not None]:
        cube(model, crfints_name(model.meta.filename, acid), _steps(prov, "outlier_detection"))
    for p in result.science:
        member = p.psfsub.meta.filename
        cube(p.psfalign, member_product_name(member, acid, "psfalign"), _steps(prov, "stack_refs", "align_refs"))
        cube(p.psfsub, member_product_name(member, acid, "psfsub"), _steps(prov, "stack_refs", "align_refs", "klip"))
    if result.mosaic is not None:
        mosaic = result.mosaic
        mosaic.header.update(marks)
        mosaic.header["FILENAME"] = f"{result.product}_i2d.fits"
        items.append((mosaic.header["FILENAME"], lambda path: write_mosaic(mosaic, path, prov)))
    return _put_all(sink, items)


def read_coron3_asn(asn_path: Path, allowed_roots: Sequence[str | Path], partial: bool = False
                    ) -> tuple[dict, list[ImageModel], list[ImageModel], list[str]]:
    """A coron3 ASN, its science and psf members (read, named as the ASN names them) and the
    names of the members missing.

    Raises
    ------
    BadInputError
        Bad ASN, a member outside ``allowed_roots``, a missing member (``partial`` False), or
        no science / no psf member present.
    """
    try:
        if asn_path.stat().st_size > MAX_ASN_BYTES:
            raise AsnError(f"{asn_path.stat().st_size} bytes is too large for an association")
        asn = read_asn(asn_path)
        if len(asn["products"]) != 1:
            raise AsnError(f"coron3 takes an association with one product, got {len(asn['products'])}")
        members = [(m["expname"], m["exptype"].strip().lower(), resolve_member(asn_path, m["expname"], allowed_roots))
                   for m in asn["products"][0]["members"] if m["exptype"].strip().lower() in ("science", "psf")]
    except (AsnError, OSError, KeyError) as exc:
        raise BadInputError(asn_path, "asn", str(exc)) from None
    missing = [name for name, _, path in members if not path.is_file()]
    if missing and not partial:
        raise BadInputError(asn_path, "members", f"{len(missing)} member(s) missing: {', '.join(missing)}")
    groups: dict[str, list[ImageModel]] = {"science": [], "psf": []}
    for name, kind, path in members:
        if path.is_file():
            model = read_cal(path)
            model.meta = replace(model.meta, filename=Path(name).name)
            groups[kind].append(model)
    for kind in groups:
        if not groups[kind]:
            raise BadInputError(asn_path, "members", f"no {kind} member file exists")
    return asn, groups["science"], groups["psf"], missing


def calibrate_coron3_file(asn_path: str | Path, out: str | os.PathLike | ProductSink, refs, *,
                          allowed_roots: Sequence[str | Path], partial: bool = False,
                          options: CalibrationOptions = CalibrationOptions()) -> list[Path]:
    """Read a coron3 ASN and its ``_calints`` members, run calwebb_coron3, write the products.

    Returns
    -------
    list of Path
        ``_psfstack``, the ``_crfints``, per science member ``_psfalign`` and ``_psfsub``, then
        ``_i2d``.

    Raises
    ------
    BadInputError
        Bad ASN or members (see :func:`read_coron3_asn`).
    """
    asn_path = Path(asn_path)
    asn, science, psfs, missing = read_coron3_asn(asn_path, allowed_roots, partial)
    result = run_coron3(science, psfs, refs, options, product=asn["products"][0]["name"], input_name=asn_path.name,
                        input_sha256=sha256_file(asn_path), missing=missing)
    models = [result.psfstack, *result.psf_crfints]
    for p in result.science:
        models += [p.psfalign, p.psfsub] + ([p.crfints] if p.crfints is not None else [])
    for model in models + ([result.mosaic] if result.mosaic is not None else []):
        model.header["ASNTABLE"] = asn_path.name
        model.header["ASNPOOL"] = str(asn.get("asn_pool", ""))
    return write_coron3(result, out, acid=str(asn.get("asn_id", "")).strip())
