"""The FITS structure walk ingest uses to tell complete files from growing ones.

It lives in the input boundary (:mod:`streamcal.boundary.layout`), where the readers use it
too; this name is kept for the ingest code and tests that import it from here.
"""

from ..boundary.layout import BLOCK, CARD, HduSummary, Layout, LayoutError, data_size, scan_layout

__all__ = ["BLOCK", "CARD", "HduSummary", "Layout", "LayoutError", "scan_layout", "data_size"]
