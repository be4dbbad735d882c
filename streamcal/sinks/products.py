"""Where a pipeline's products go: the sink the pipelines write through.

A :class:`ProductSink` takes a run's products (:meth:`~ProductSink.write`) and single extra
products made by a writer function (:meth:`~ProductSink.put`: catalogs, mosaics, ...).
:class:`DirectorySink` — files with their JWST names in one directory, each written under a
hidden temporary name and renamed into place — is what ``streamcal calibrate`` and the stage
workers use; what was written is recorded by whoever owns the record (the stream's flow, from the
worker's outcome; :class:`~streamcal.sinks.fits.FitsProductSink` for a plain ledger).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from ..models import MosaicModel, RampModel, product_name

if TYPE_CHECKING:
    from ..pipelines.runner import PipelineResult

__all__ = ["DirectorySink", "ProductSink", "product_sink"]


@runtime_checkable
class ProductSink(Protocol):
    """What a pipeline needs of the place its products go."""

    def write(self, result: PipelineResult, input_name: str) -> list[Path]:
        """Write every product of ``result`` (named from ``input_name``), all or nothing."""

    def put(self, name: str, writer: Callable[[Path], Path]) -> Path:
        """One more product called ``name``: ``writer(path)`` writes it (atomically) and returns
        the path written."""


class DirectorySink:
    """Products as files in ``directory`` (created when absent), written atomically by the
    :mod:`streamcal.fitsio` writers (hidden temporary name, then rename): a reader never sees
    half a file, and a rerun replaces a product instead of adding one.

    Parameters
    ----------
    directory : str or Path
    """

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"DirectorySink({str(self.directory)!r})"

    def write(self, result: PipelineResult, input_name: str) -> list[Path]:
        """Write every product of a run; if one write fails, those this call wrote are removed."""
        from ..fitsio import write_image, write_mosaic, write_ramp

        written: list[Path] = []
        try:
            for product in result.products:
                path = self.directory / product_name(Path(input_name).name, product.suffix)
                if isinstance(product.model, RampModel):
                    written.append(write_ramp(product.model, path, result.provenance))
                elif isinstance(product.model, MosaicModel):
                    written.append(write_mosaic(product.model, path, result.provenance))
                else:
                    written.append(write_image(product.model, path, result.provenance, product.datamodel))
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return written

    def put(self, name: str, writer: Callable[[Path], Path]) -> Path:
        return writer(self.directory / name)


def product_sink(out: str | os.PathLike | ProductSink) -> ProductSink:
    """``out`` itself when it is a sink, else a :class:`DirectorySink` on that directory."""
    return out if isinstance(out, ProductSink) else DirectorySink(out)
