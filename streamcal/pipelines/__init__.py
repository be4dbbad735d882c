"""Pipelines: ordered steps per pipeline and instrument, and the runner that applies them.

>>> from streamcal.pipelines import PIPELINES
>>> PIPELINES["calwebb_tso1"].default_skips
frozenset({'ipc', 'lastframe', 'persistence', 'firstframe', 'rscd'})
"""

from .definitions import PIPELINES, PipelineSpec, pipeline_for
from .files import calibrate_file
from .runner import CalibrationOptions, PipelineResult, Product, run_pipeline


def __getattr__(name: str):
    # image2 imports the WCS/resample stack: load it only when asked for
    if name in ("calibrate_image2_file", "run_image2"):
        from . import image2

        return getattr(image2, name)
    raise AttributeError(name)


__all__ = ["PIPELINES", "PipelineSpec", "pipeline_for", "CalibrationOptions", "PipelineResult",
           "Product", "calibrate_file", "run_pipeline", "calibrate_image2_file", "run_image2"]
