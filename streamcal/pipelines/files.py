"""A file through the pipeline it needs: a raw exposure through its stage-1 pipeline, a
``_rate``/``_rateints`` file or level-2 ASN through calwebb_image2, an image3 ASN through
calwebb_image3.  The one module that knows every pipeline module, so that none of them imports
another's caller (:mod:`.runner` is imported by :mod:`.image2` and :mod:`.image3`, never the other
way)."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import NotImplementedStepError
from ..fitsio import read_raw
from ..provenance import sha256_file
from ..sinks.products import ProductSink, product_sink
from .definitions import pipeline_for
from .runner import CalibrationOptions, run_pipeline

__all__ = ["calibrate_file", "is_stage2_input", "level3_asn_type"]

STAGE2_SUFFIXES = ("_rate.fits", "_rateints.fits")


def is_stage2_input(path: str | Path, options: CalibrationOptions = CalibrationOptions()) -> bool:
    """Whether ``calibrate_file`` sends ``path`` to a stage-2 pipeline: a level-2 ASN (``.json``),
    a ``_rate``/``_rateints`` file, or any file when a stage-2 pipeline is forced."""
    name = Path(path).name.lower()
    if options.pipeline:
        try:
            return pipeline_for(options.pipeline).stage == 2
        except (KeyError, NotImplementedStepError):
            return False
    return name.endswith(".json") or name.endswith(STAGE2_SUFFIXES)


def level3_asn_type(path: str | Path) -> str | None:
    """The ``asn_type`` of a level-3 ASN file (``"image3"``...); ``None`` for anything else,
    including level-2 ASNs and files that are not ASNs at all (those fail later, with reasons)."""
    if not str(path).lower().endswith(".json"):
        return None
    from ..associations import AsnError, read_asn

    try:
        asn_type = str(read_asn(path).get("asn_type", ""))
    except (AsnError, OSError, ValueError):
        return None
    return None if asn_type.endswith("2") else asn_type


def calibrate_file(path: str | Path, out: str | os.PathLike | ProductSink, refs,
                   options: CalibrationOptions = CalibrationOptions()) -> list[Path]:
    """Calibrate one input file into ``out`` (a directory, or any
    :class:`~streamcal.sinks.products.ProductSink`): a raw exposure through its stage-1
    pipeline, a ``_rate``/``_rateints`` file or level-2 ASN through stage 2 (calwebb_image2), an
    image3 ASN through calwebb_image3, a tso3 ASN through calwebb_tso3 (members resolved next
    to the ASN only).

    Returns
    -------
    list of Path
        The products written (``<root>_rate.fits``, ``<root>_rateints.fits``, ``<root>_cal.fits``, ...).

    Raises
    ------
    BadInputError
        The file is unusable; nothing is written.
    """
    sink = product_sink(out)
    asn_type = level3_asn_type(path)
    if asn_type == "image3":
        from .image3 import calibrate_image3_file  # the WCS/photometry stack: only when needed

        return calibrate_image3_file(path, sink, refs, allowed_roots=[Path(path).parent],
                                     options=options)
    if asn_type == "tso3":
        from .tso3 import calibrate_tso3_file

        return calibrate_tso3_file(path, sink, refs, allowed_roots=[Path(path).parent], options=options)
    if asn_type == "coron3":
        from .coron3 import calibrate_coron3_file

        return calibrate_coron3_file(path, sink, refs, allowed_roots=[Path(path).parent], options=options)
    if asn_type:
        raise NotImplementedStepError(f"{Path(path).name}: {asn_type} associations need a stage-3 "
                                      "pipeline streamcal does not implement yet")
    if is_stage2_input(path, options):
        from .image2 import calibrate_image2_file  # the WCS/resample stack: only when needed

        return calibrate_image2_file(path, sink, refs, options)
    path = Path(path)
    sha = sha256_file(path) if path.is_file() else ""
    ramp = read_raw(path)
    result = run_pipeline(ramp, refs, options, input_name=path.name, input_sha256=sha)
    return sink.write(result, path.name)
