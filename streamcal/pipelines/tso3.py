"""calwebb_tso3 for imaging time series: the ``_calints`` of an association -> ``_crfints`` per
member and one light curve (spectroscopy.md §5; jwst 3.0 ``Tso3Pipeline``).

For each science member (a 3-D cube): outlier_detection in ``tso`` mode ->
``<member root>_<asn_id>_crfints.fits`` (written when the step ran).  Then, for NRC_TSIMAGE and
MIR_IMAGE with TSOVISIT (jwst's imaging test), tso_photometry on every cube; the tables are
stacked into ``<product>_phot.ecsv`` (metadata ``number_of_integrations``, and for a partial
run ASNPART/ASNMISS).  Every other TSO exposure type takes jwst's spectroscopic branch
(adaptive_trace_model, pixel_replace, extract_1d, white_light), which streamcal does not
implement: NotImplementedStepError, nothing is passed through.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Sequence

from astropy.table import QTable, vstack

from ..associations.buffer import exposure_root
from ..errors import NotImplementedStepError
from ..fitsio import write_image
from ..models import ImageModel
from ..provenance import Provenance, StepRecord, sha256_file
from ..sinks.catalogs import write_catalog_ecsv
from ..sinks.products import ProductSink, product_sink
from ..steps import outlier_detection, tso_photometry
from ..steps.base import params_dict
from .definitions import PIPELINES
from .image3 import read_level3_members
from .runner import CalibrationOptions, resolve_params

SPEC = PIPELINES["calwebb_tso3"]
#: jwst 3.0's spectroscopic branch, which streamcal lacks.
SPECTROSCOPIC_STEPS = ("adaptive_trace_model", "pixel_replace", "extract_1d", "white_light")

__all__ = ["Tso3Result", "is_tso_imaging", "run_tso3", "write_tso3", "calibrate_tso3_file", "crfints_name"]


@dataclass
class Tso3Result:
    """What one calwebb_tso3 run makes (not yet written).

    Attributes
    ----------
    product : str
        The ASN product name.
    crfints : list of ImageModel
        Members after outlier_detection (empty when it was skipped).
    photometry : list of TsoPhotometry
        One light curve per member (empty when tso_photometry was skipped).
    provenance : Provenance
        One StepRecord per step and member.
    missing : list of str
        Members absent from a partial run.
    """

    product: str
    crfints: list[ImageModel]
    photometry: list
    provenance: Provenance
    missing: list[str] = field(default_factory=list)

    def table(self) -> QTable | None:
        """The stacked ``_phot.ecsv`` table (None without photometry)."""
        if not self.photometry:
            return None
        table = vstack([p.table() for p in self.photometry])
        table.meta["number_of_integrations"] = len(table)
        if self.missing:
            table.meta.update({"ASNPART": True, "ASNMISS": ", ".join(self.missing)})
        return table


def is_tso_imaging(model: ImageModel) -> bool:
    """jwst 3.0's test for the photometry branch: NRC_TSIMAGE, or MIR_IMAGE with TSOVISIT."""
    exp_type = model.meta.exp_type.upper()
    return exp_type == "NRC_TSIMAGE" or (exp_type == "MIR_IMAGE" and model.meta.tsovisit)


def _check_inputs(models: Sequence[ImageModel]) -> None:
    if not models:
        raise ValueError("calwebb_tso3 needs at least one calints member")
    spectro = [m.meta.filename for m in models if not is_tso_imaging(m)]
    if spectro:
        raise NotImplementedStepError(
            f"calwebb_tso3 for {models[0].meta.exp_type} ({', '.join(spectro)}) needs jwst's spectroscopic TSO "
            f"steps {', '.join(SPECTROSCOPIC_STEPS)}, which streamcal does not implement yet")


def _record(module, params, note: str = "", status: str = "SKIPPED") -> StepRecord:
    return StepRecord(name=module.NAME, status=status, status_keyword=module.STATUS_KEYWORD,
                      parameters=params_dict(params), note=note)


def _timed(module, call, params, model):
    start = time.perf_counter()
    out, report = call(model, params)
    record = _record(module, params, f"{model.meta.filename}: {report.note}", report.status)
    record.seconds = time.perf_counter() - start
    return out, record


def run_tso3(models: Sequence[ImageModel], refs, options: CalibrationOptions = CalibrationOptions(), *,
             product: str = "", input_name: str = "", input_sha256: str = "",
             missing: Sequence[str] = ()) -> Tso3Result:
    """Run calwebb_tso3 (imaging) in memory.

    Parameters
    ----------
    models : sequence of ImageModel
        3-D ``calints`` cubes (MJy/sr or DN/s, INT_TIMES, XREF_SCI/YREF_SCI); not modified.
    refs : ReferenceSet
        For tso_photometry's gain (DN/s input only).
    options : CalibrationOptions
        ``skip`` / ``step_values`` name tso3 steps (``outlier_detection.rolling_window_width``...).
    product : str
        Product name (default: the first member's root).
    missing : sequence of str
        Members absent (a partial run).

    Raises
    ------
    NotImplementedStepError
        A spectroscopic TSO member.
    ValueError
        No member, a bad parameter, a member without XREF_SCI/YREF_SCI or INT_TIMES.
    """
    models = list(models)
    _check_inputs(models)
    params = resolve_params(SPEC, models[0].meta.instrument, options)
    prov = Provenance(SPEC.name, input_name or models[0].meta.filename, input_sha256)
    crf, cubes = [], []
    for model in models:
        if model.data.ndim != 3:  # jwst: 2-D input skips outlier detection
            prov.steps.append(_record(outlier_detection, params["outlier_detection"], "input data are 2-D"))
            cubes.append(model)
            continue
        cube, record = _timed(outlier_detection, outlier_detection.detect_tso_outliers,
                              params["outlier_detection"], model)
        prov.steps.append(record)
        cubes.append(cube)
        if record.status == "COMPLETE":
            cube.header[outlier_detection.STATUS_KEYWORD] = "COMPLETE"
            crf.append(cube)
    phot = []
    for cube in cubes:
        gain = refs.get("gain", cube.meta) if cube.bunit == "DN/s" else None
        result, record = _timed(tso_photometry, lambda m, p: tso_photometry.run(
            m, {"gain": gain} if gain is not None else {}, p), params["tso_photometry"], cube)
        record.reffiles = {"gain": gain.path} if gain is not None else {}
        prov.steps.append(record)
        if result is not None:
            phot.append(result)
    return Tso3Result(product or exposure_root(models[0].meta.filename), crf, phot, prov, list(missing))


def crfints_name(member: str, acid: str) -> str:
    """``jw..._nrca3_calints.fits``, ``o001`` -> ``jw..._nrca3_o001_crfints.fits``."""
    root = exposure_root(member)
    return f"{root}_{acid}_crfints.fits" if acid else f"{root}_crfints.fits"


def write_tso3(result: Tso3Result, out: str | os.PathLike | ProductSink, *, acid: str = "") -> list[Path]:
    """Write the ``_phot.ecsv`` and the ``_crfints`` into ``out``, all or nothing."""
    sink = product_sink(out)
    crf_prov = replace(result.provenance, steps=[s for s in result.provenance.steps
                                                  if s.name == outlier_detection.NAME])
    marks = {"ASNPART": (bool(result.missing), "made from a partial association"),
             "ASNMISS": ", ".join(result.missing)}
    table = result.table()
    items = []
    if table is not None:
        meta = {"SC_VER": result.provenance.version, "SC_PIPE": SPEC.name}
        items.append((f"{result.product}_phot.ecsv", lambda path: write_catalog_ecsv(table, path, meta)))
    for model in result.crfints:
        model.header.update(marks)
        model.header["FILENAME"] = crfints_name(model.meta.filename, acid)
        items.append((model.header["FILENAME"],
                      lambda path, model=model: write_image(model, path, crf_prov, "CubeModel")))
    return _put_all(sink, items)


def _put_all(sink: ProductSink, items: Sequence[tuple[str, Callable[[Path], Path]]]) -> list[Path]:
    """``sink.put`` every (name, writer) in order; on any failure the files written are removed."""
    written: list[Path] = []
    try:
        for name, writer in items:
            written.append(sink.put(name, writer))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def calibrate_tso3_file(asn_path: str | Path, out: str | os.PathLike | ProductSink, refs, *,
                        allowed_roots: Sequence[str | Path], partial: bool = False,
                        options: CalibrationOptions = CalibrationOptions(),
                        lightcurve_dataset: str | Path | None = None) -> list[Path]:
    """Read a tso3 ASN and its ``_calints`` members, run calwebb_tso3, write the products.

    Parameters
    ----------
    asn_path : path
        The level-3 ASN JSON (``asn_type`` tso3).
    out : path or ProductSink
    refs : ReferenceSet
    allowed_roots : sequence of path
        Directories member files may come from; anything else is refused.
    partial : bool
        Run with the members that exist and mark the products partial; otherwise a missing
        member is an error.
    lightcurve_dataset : path, optional
        Also append the light curve to this Parquet dataset (one part per product made,
        :class:`streamcal.sinks.catalogs.CatalogDataset`), after the products are written.

    Returns
    -------
    list of Path
        ``<product>_phot.ecsv`` then the ``<root>_<acid>_crfints.fits`` files.

    Raises
    ------
    BadInputError
        Bad ASN, a member outside ``allowed_roots``, a missing member (``partial`` False), no
        member, or an unreadable member.
    NotImplementedStepError
        Spectroscopic TSO members.
    """
    asn_path = Path(asn_path)
    asn, models, missing = read_level3_members(asn_path, allowed_roots, partial)
    result = run_tso3(models, refs, options, product=asn["products"][0]["name"], input_name=asn_path.name,
                      input_sha256=sha256_file(asn_path), missing=missing)
    for model in result.crfints:
        model.header["ASNTABLE"] = asn_path.name
        model.header["ASNPOOL"] = str(asn.get("asn_pool", ""))
    written = write_tso3(result, out, acid=str(asn.get("asn_id", "")).strip())
    table = result.table()
    if lightcurve_dataset is not None and table is not None:
        from ..sinks.catalogs import CatalogDataset

        CatalogDataset(lightcurve_dataset).append(table, result.product)
    return written
