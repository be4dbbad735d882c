"""calwebb_image3: the calibrated exposures of an association -> one mosaic and its catalog.

Steps (jwst_spec §5.1): assign_mtwcs -> tweakreg -> skymatch -> outlier_detection -> resample
-> source_catalog, through the step loop the other pipelines use
(:func:`streamcal.pipelines.runner.run_steps`; the stage-3 steps take the list of exposures).
With a single input only resample and source_catalog run (jwst).  assign_mtwcs only matters for
moving targets, which streamcal does not support (NotImplementedStepError); for fixed targets
it records the exposure groups (all detectors of one exposure) in its provenance note.

Products (jwst names): ``<exposure root>_<asn_id>_crf.fits`` per input (after
outlier_detection), ``<product>_i2d.fits``, ``<product>_cat.ecsv``, ``<product>_segm.fits``.

Input: a level-3 ASN (JSON, ``asn_type`` image3) whose ``science`` members are ``_cal`` files
named relative to the ASN and resolved only inside ``allowed_roots``.  A ``partial=True`` run
makes the products from the members that exist and marks them: ASNPART = True and ASNMISS (the
missing member names) in the primary headers (and the catalog metadata).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from astropy.io import fits
from astropy.table import Table

from .. import memory, parallel
from ..associations import AsnError, read_asn, resolve_member
from ..associations.buffer import exposure_root
from ..errors import BadInputError, NotImplementedStepError
from ..fitsio import read_cal, write_image, write_mosaic
from ..models import ImageModel, MosaicModel
from ..provenance import Provenance, StepRecord, sha256_file
from ..sinks.products import ProductSink, product_sink
from ..steps import get_step
from ..steps.base import StepParams, params_dict, skipped
from ..steps.resample import exposure_group_id
from ..steps.resample.pixmap import caching_pixmaps
from .definitions import IMAGE3, PIPELINES
from .runner import CalibrationOptions, resolve_params, run_steps

#: What a single input runs (the full order is definitions.IMAGE3).
SINGLE = ("resample", "source_catalog")
SPEC = PIPELINES["calwebb_image3"]
#: streamcal's image3 parameter set (the role of a jwst ``pars-*`` file: code defaults are
#: jwst's, a pipeline may override them; the user's ``--set`` still wins).  Pixel maps from
#: the WCS every 10 pixels + bicubic splines: 1e-8 pixel from exact on the synthetic NIRCam
#: distortion, and ~12 s less for 4 full frames (each exact map costs 1-4 s).  Drizzle on every
#: CPU (its C code holds the GIL; streamcal.parallel): the inputs are split between processes.
PARAMETER_SET = {"resample": {"pixmap_stepsize": 10.0, "pixmap_order": 3, "maximum_cores": "all"},
                 "outlier_detection": {"pixmap_stepsize": 10.0, "pixmap_order": 3, "maximum_cores": "all"}}
#: Peak memory of a drizzle helper process / the image3 process (0.8 / 2.3 GB for 4 full frames
#: on 2 cores).
HELPER_MEMORY_SHARE = 0.36
#: jwst's cal_step keyword of assign_mtwcs (streamcal has no step module for it).
MTWCS_KEYWORD = "S_MTWCS"
#: ASNMISS of a partial product whose missing members have no names yet (the stream expects
#: them from the exposure headers' dither and exposure counts).
UNNAMED_MISSING = "members expected from the exposure headers, not landed yet"
#: Largest level-3 ASN read (a few kB each; thousands of members would still fit).
MAX_ASN_BYTES = 4 << 20


@dataclass
class Image3Result:
    """What one calwebb_image3 run makes (not yet written).

    Attributes
    ----------
    product : str
        The ASN product name (``jw01234-o001_t001_nircam_clear-f200w``).
    crf : list of ImageModel
        Inputs after outlier_detection (empty when it did not run).
    mosaic : MosaicModel
        The ``i2d``.
    catalog : CatalogResult or None
        Catalog table and segmentation map (None when source_catalog was skipped).
    provenance : Provenance
        One StepRecord per step.
    groups : dict
        Exposure group -> member file names (assign_mtwcs' record).
    missing : list of str
        Members absent from a partial run.
    crf_steps : int
        How many provenance records the crf products carry (the steps up to outlier_detection).
    """

    product: str
    crf: list[ImageModel]
    mosaic: MosaicModel
    catalog: Any
    provenance: Provenance
    groups: dict[str, list[str]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    crf_steps: int = 0

    @property
    def partial(self) -> bool:
        return bool(self.missing)


# -------------------------------------------------------------------------------- steps

class Exposures(list):
    """The exposures of an association as the shared step loop passes them to a stage-3 step:
    a plain list whose ``meta`` (what the loop selects reference files by) is the first
    exposure's."""

    @property
    def meta(self):
        return self[0].meta


def exposure_groups(models: Sequence[ImageModel]) -> dict[str, list[str]]:
    """Exposure group id -> member file names, in input order."""
    groups: dict[str, list[str]] = {}
    for model in models:
        groups.setdefault(exposure_group_id(model.header, model.meta.filename), []).append(model.meta.filename)
    return groups


def _assign_mtwcs(models: Sequence[ImageModel], params: StepParams) -> StepRecord:
    record = StepRecord(name="assign_mtwcs", status="SKIPPED", status_keyword=MTWCS_KEYWORD,
                        parameters=params_dict(params))
    moving = [m.meta.filename for m in models if str(m.header.get("TARGTYPE", "")).strip().upper() == "MOVING"]
    if moving and not params.skip:
        raise NotImplementedStepError(f"assign_mtwcs: moving-target WCS is not implemented ({', '.join(moving)})")
    groups = exposure_groups(models)
    record.note = "not a moving target; exposure groups: " + "; ".join(
        f"{g}: {', '.join(names)}" for g, names in groups.items())
    return record


def _source_catalog(mosaic: MosaicModel, refs, params: StepParams, prov: Provenance):
    """source_catalog with its references looked up from the mosaic's header keys."""
    step = get_step("source_catalog")
    record = StepRecord(name=step.NAME, status="SKIPPED", status_keyword=step.STATUS_KEYWORD,
                        parameters=params_dict(params))
    prov.steps.append(record)
    if params.skip:
        record.note = "skipped by parameter"
        return None
    meta = step.catalog_meta(mosaic)
    found = {t: refs.get(t, meta) for t in step.REFTYPES + tuple(step.OPTIONAL_REFTYPES)}
    missing = [t for t in step.REFTYPES if found.get(t) is None]
    if missing:
        record.note = skipped(f"no {', '.join(missing)} reference file applies (N/A)").note
        return None
    record.reffiles = {k: v.path for k, v in found.items() if v is not None}
    start = time.perf_counter()
    result, report = step.run(mosaic, {k: v for k, v in found.items() if v is not None}, params)
    record.seconds = time.perf_counter() - start
    record.status, record.note = report.status, report.note
    return result


def warm_up(prefault_mb: int = 0) -> None:
    """Make a new stream worker's first mosaic as quick as its next ones: start the drizzle
    helper processes (:data:`PARAMETER_SET`'s ``maximum_cores``), load the ASDF converters
    (the first gwcs read or write of a process costs ~0.6 s more than the next) and take
    ``prefault_mb`` of memory here and :data:`HELPER_MEMORY_SHARE` of it in each helper
    (:mod:`streamcal.memory`)."""
    from ..wcs import Pointing, imaging_wcs
    from ..wcs.serialize import wcs_from_asdf_bytes, wcs_to_asdf_bytes

    wcs_from_asdf_bytes(wcs_to_asdf_bytes(imaging_wcs(Pointing(0.0, 0.0, 0.0, 0.0, 0.0), shape=(8, 8),
                                                      pixel_scale=0.03)))
    memory.prefault(prefault_mb)
    parallel.warm_up(parallel.resolve_cores(PARAMETER_SET["resample"]["maximum_cores"]),
                     ["streamcal.steps.resample", "streamcal.steps.outlier_detection"],
                     round(prefault_mb * HELPER_MEMORY_SHARE))


def _with_parameter_set(options: CalibrationOptions) -> CalibrationOptions:
    values = {step: {**PARAMETER_SET.get(step, {}), **dict(options.step_values.get(step, {}))}
              for step in set(PARAMETER_SET) | set(options.step_values)}
    return replace(options, step_values=values)


def run_image3(models: Sequence[ImageModel], refs, options: CalibrationOptions = CalibrationOptions(), *,
               product: str = "", input_name: str = "", input_sha256: str = "",
               missing: Sequence[str] = (), catalogs: Mapping[str, Table] | None = None) -> Image3Result:
    """Run calwebb_image3 in memory.

    Parameters
    ----------
    models : sequence of ImageModel
        2-D ``cal`` images (MJy/sr, with gwcs and pointing keywords); not modified.
    refs : streamcal.refs.ReferenceSet
        For source_catalog (APCORR, ABVEGAOFFSET).
    options : CalibrationOptions
        ``skip`` / ``step_values`` name image3 steps (``outlier_detection.snr``,
        ``resample.pixfrac``, ...).
    product : str
        Product name (default: the first member's root).
    missing : sequence of str
        Members of the association that are absent (a partial run); recorded in the headers.
    catalogs : mapping of str to Table, optional
        tweakreg source catalogs by member file name (used with ``tweakreg.use_custom_catalogs``).

    Returns
    -------
    Image3Result

    Raises
    ------
    ValueError
        No input, a step parameter that does not exist, inputs without WCS.
    NotImplementedStepError
        Moving targets.
    """
    models = list(models)
    if not models:
        raise ValueError("calwebb_image3 needs at least one calibrated image")
    params = resolve_params(SPEC, models[0].meta.instrument, _with_parameter_set(options))
    prov = Provenance(SPEC.name, input_name or models[0].meta.filename, input_sha256)
    names = IMAGE3 if len(models) > 1 else SINGLE
    crf: list[ImageModel] = []
    crf_steps = 0
    abs_refcat = params["tweakreg"].abs_refcat.strip()
    refcat = read_refcat(abs_refcat) if abs_refcat and not params["tweakreg"].skip else None

    if "assign_mtwcs" in names:
        prov.steps.append(_assign_mtwcs(models, params["assign_mtwcs"]))
    current: Any = models
    keywords: dict[str, Any] = {}
    with caching_pixmaps():  # skymatch, outlier_detection and resample share the pixel maps
        for name in (n for n in names if n not in ("assign_mtwcs", "source_catalog")):
            # one step at a time: the list is re-wrapped so the loop finds a ``meta`` on it
            current, more = run_steps((name,), Exposures(current), refs, params, prov,
                                      inputs={"tweakreg": {"catalogs": catalogs, "refcat": refcat}})
            keywords.update(more)
            if name == "outlier_detection" and prov.steps[-1].status == "COMPLETE":
                crf, crf_steps = list(current), len(prov.steps)
    mosaic = current
    if not isinstance(mosaic, MosaicModel):
        raise ValueError("calwebb_image3: resample was skipped, so there is no mosaic to write")
    catalog = _source_catalog(mosaic, refs, params["source_catalog"], prov)
    result = Image3Result(product or exposure_root(models[0].meta.filename), crf, mosaic, catalog, prov,
                          exposure_groups(models), list(missing), crf_steps)
    _mark(result, keywords)
    return result


def _mark(result: Image3Result, keywords: dict) -> None:
    """Product keywords: step keywords, the partial-association mark, the product name."""
    marks = {"ASNPART": (result.partial, "made from a partial association"),
             "ASNMISS": ", ".join(result.missing)}  # may be long: no comment
    for model in (result.mosaic, *result.crf):
        model.header.update(keywords)
        for key, value in marks.items():
            model.header[key] = value
    result.mosaic.header["FILENAME"] = f"{result.product}_i2d.fits"
    if result.catalog is not None:
        result.catalog.catalog.meta.update({"product": result.product, "ASNPART": result.partial,
                                            "ASNMISS": ", ".join(result.missing)})


# -------------------------------------------------------------------------------- files

def crf_name(member: str, acid: str) -> str:
    """``jw..._nrca1_cal.fits``, ``o001`` -> ``jw..._nrca1_o001_crf.fits``."""
    root = exposure_root(member)
    return f"{root}_{acid}_crf.fits" if acid else f"{root}_crf.fits"


def write_image3(result: Image3Result, out: str | os.PathLike | ProductSink, *, acid: str = "",
                 input_headers: list[fits.Header] | None = None) -> list[Path]:
    """Write the products of a run into ``out`` (a directory or a
    :class:`~streamcal.sinks.products.ProductSink`), all or nothing."""
    from ..sinks.catalogs import write_catalog_ecsv, write_segm

    sink = product_sink(out)
    written: list[Path] = []
    crf_prov = replace(result.provenance, steps=result.provenance.steps[:result.crf_steps])
    mosaic, catalog = result.mosaic, result.catalog
    try:  # the mosaic first: it is what users wait for; the crf files follow
        written.append(sink.put(f"{result.product}_i2d.fits",
                                lambda path: write_mosaic(mosaic, path, result.provenance, input_headers)))
        if catalog is not None:
            meta = {"SC_VER": result.provenance.version, "SC_PIPE": SPEC.name}
            written.append(sink.put(f"{result.product}_cat.ecsv",
                                    lambda path: write_catalog_ecsv(catalog.catalog, path, meta)))
            if catalog.segm is not None:
                header = mosaic.header.copy()
                header["FILENAME"] = f"{result.product}_segm.fits"
                written.append(sink.put(header["FILENAME"], lambda path: write_segm(
                    catalog.segm, path, header, mosaic.sci_header, mosaic.wcs)))
        for model in result.crf:
            model.header["FILENAME"] = crf_name(model.meta.filename, acid)
            written.append(sink.put(model.header["FILENAME"],
                                    lambda path, model=model: write_image(model, path, crf_prov, "ImageModel")))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def read_image3_asn(asn_path: Path, allowed_roots: Sequence[str | Path]) -> tuple[dict, list[tuple[str, Path]]]:
    """The ASN and its science members as (expname, resolved path).

    Raises
    ------
    BadInputError
        Not a readable level-3 ASN with one product, or a member outside ``allowed_roots``.
    """
    try:
        if asn_path.stat().st_size > MAX_ASN_BYTES:
            raise AsnError(f"{asn_path}: {asn_path.stat().st_size} bytes is too large for an association")
        asn = read_asn(asn_path)
        if len(asn["products"]) != 1:
            raise AsnError(f"image3 takes an association with one product, got {len(asn['products'])}")
        names = [m["expname"] for m in asn["products"][0]["members"] if m["exptype"].strip().lower() == "science"]
        if not names:
            raise AsnError("the product has no science member")
        members = [(name, resolve_member(asn_path, name, allowed_roots)) for name in names]
    except (AsnError, OSError) as exc:
        raise BadInputError(asn_path, "asn", str(exc)) from None
    return asn, members


def read_refcat(path: str | Path) -> Table:
    """tweakreg's absolute reference catalog (``abs_refcat``) from a file: ECSV, CSV or FITS
    table with RA/DEC columns (deg) or a source_catalog ``_cat.ecsv``.

    Raises
    ------
    ValueError
        A Gaia catalog name (fetched from the Gaia archive, which streamcal cannot reach
        offline), a missing file, or no usable columns.
    """
    from ..steps.tweakreg import GAIA_CATALOGS, reference_catalog

    text = str(path).strip()
    if text.upper() in GAIA_CATALOGS:
        raise ValueError(f"tweakreg abs_refcat={text!r}: Gaia catalogs are fetched from the Gaia archive, "
                         "which streamcal cannot reach offline; pass a catalog file with RA/DEC columns")
    if not Path(text).is_file():
        raise ValueError(f"tweakreg abs_refcat={text!r}: no such file (expected a catalog with RA/DEC)")
    table = Table.read(text, format="ascii.csv") if text.lower().endswith(".csv") else Table.read(text)
    return reference_catalog(table, Path(text).name)


def attach_tweakreg_catalogs(asn: dict, directory: str | Path) -> dict:
    """Name each science member's tweakreg catalog (``<root>_cat.ecsv`` made with its cal,
    see :func:`streamcal.pipelines.image2.calibrate_image2_file`) when it exists in
    ``directory``: the member's ``tweakreg_catalog``, as jwst ASNs carry it.  Returns ``asn``."""
    for member in asn["products"][0]["members"]:
        name = f"{exposure_root(member['expname'])}_cat.ecsv"
        if member["exptype"].strip().lower() == "science" and (Path(directory) / name).is_file():
            member["tweakreg_catalog"] = name
    return asn


def member_catalogs(asn_path: Path, asn: dict, allowed_roots: Sequence[str | Path]) -> dict[str, Table]:
    """The ``tweakreg_catalog`` files the ASN's science members name, read, by member file name.

    Catalog paths resolve like member paths (inside ``allowed_roots`` only); a named catalog
    that does not exist is left out (tweakreg then detects the sources itself).

    Raises
    ------
    BadInputError
        A catalog path outside ``allowed_roots`` or a catalog that is not a readable table.
    """
    out = {}
    for member in asn["products"][0]["members"]:
        name = str(member.get("tweakreg_catalog") or "").strip()
        if not name or member["exptype"].strip().lower() != "science":
            continue
        try:
            path = resolve_member(asn_path, name, allowed_roots)
            if path.is_file():
                out[Path(member["expname"]).name] = Table.read(path, format="ascii.ecsv")
        except (AsnError, OSError, ValueError) as exc:
            raise BadInputError(asn_path, "tweakreg_catalog", f"{name}: {exc}") from None
    return out


def read_level3_members(asn_path: Path, allowed_roots: Sequence[str | Path],
                        partial: bool) -> tuple[dict, list[ImageModel], list[str]]:
    """A level-3 ASN, its science members that exist (read, named as the ASN names them) and the
    names of those missing (``[UNNAMED_MISSING]`` for a partial run whose ASN names none: the
    stream's candidates known by member count only).

    Raises
    ------
    BadInputError
        Bad ASN, a member outside ``allowed_roots``, a missing member (``partial`` False), no
        member, or an unreadable member.
    """
    asn, members = read_image3_asn(asn_path, allowed_roots)
    present = [(name, path) for name, path in members if path.is_file()]
    missing = [name for name, path in members if not path.is_file()]
    if missing and not partial:
        raise BadInputError(asn_path, "members", f"{len(missing)} member(s) missing: {', '.join(missing)}")
    if not present:
        raise BadInputError(asn_path, "members", "no member file exists")
    models = [read_cal(path) for _, path in present]
    for model, (name, _) in zip(models, present):  # product names follow the ASN's member names
        model.meta = replace(model.meta, filename=Path(name).name)
    return asn, models, missing or ([UNNAMED_MISSING] if partial else [])


def calibrate_image3_file(asn_path: str | Path, out: str | os.PathLike | ProductSink, refs, *,
                          allowed_roots: Sequence[str | Path], partial: bool = False,
                          options: CalibrationOptions = CalibrationOptions(),
                          catalog_dataset: str | Path | None = None) -> list[Path]:
    """Read an image3 ASN and its ``_cal`` members, run calwebb_image3, write the products.

    Parameters
    ----------
    asn_path : path
        The level-3 ASN JSON.
    out : path or ProductSink
        Where the products go (a directory, or a :class:`~streamcal.sinks.products.ProductSink`).
    refs : ReferenceSet
    allowed_roots : sequence of path
        Directories member files may come from (landing / products); anything else is refused.
    partial : bool
        Run with the members that exist and mark the products partial (also when the ASN names
        no missing member: the caller knows more are expected); otherwise a missing
        member is an error.
    catalog_dataset : path, optional
        Also append the catalog to this Parquet dataset (:class:`streamcal.sinks.catalogs.
        CatalogDataset`), after the products are written.

    Returns
    -------
    list of Path
        i2d, cat, segm, crf files (in the order written: the mosaic first).

    Raises
    ------
    BadInputError
        Bad ASN, a member path outside ``allowed_roots``, a missing member (``partial``
        False) or no member at all, or an unreadable member file.
    """
    asn_path = Path(asn_path)
    asn, models, missing = read_level3_members(asn_path, allowed_roots, partial)
    result = run_image3(models, refs, options, product=asn["products"][0]["name"], input_name=asn_path.name,
                        input_sha256=sha256_file(asn_path), missing=missing,
                        catalogs=member_catalogs(asn_path, asn, allowed_roots))
    for model in (result.mosaic, *result.crf):
        model.header["ASNTABLE"] = asn_path.name
        model.header["ASNPOOL"] = str(asn.get("asn_pool", ""))
    written = write_image3(result, out, acid=str(asn.get("asn_id", "")).strip(),
                           input_headers=[m.header for m in models])
    if catalog_dataset is not None and result.catalog is not None:
        from ..sinks.catalogs import CatalogDataset

        CatalogDataset(catalog_dataset).append(result.catalog.catalog, result.product)
    return written
