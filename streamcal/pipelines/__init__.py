"""Pipelines: ordered steps per pipeline and instrument, and the runner that applies them.

>>> from streamcal.pipelines import PIPELINES
>>> PIPELINES["calwebb_tso1"].default_skips
frozenset({'ipc', 'lastframe', 'persistence', 'firstframe', 'rscd'})
"""

from .definitions import PIPELINES, PipelineSpec, pipeline_for
from .runner import CalibrationOptions, PipelineResult, Product, calibrate_file, run_pipeline

__all__ = ["PIPELINES", "PipelineSpec", "pipeline_for", "CalibrationOptions", "PipelineResult",
           "Product", "calibrate_file", "run_pipeline"]
