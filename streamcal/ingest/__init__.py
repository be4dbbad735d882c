"""Ingest without Ray: which landed files are ready, and how to notice them.

- :func:`is_ignored` — hidden and temporary names (``.x.fits.XXXX``, ``*.part``, ``*.tmp`` ...).
- :func:`inspect` — ok / incomplete / bad (with check and one-line reason) from the FITS headers,
  never reading data or following symlinks; :func:`inspect_asn` the same for association files
  (``*_asn.json``); :func:`content_sha256` for deduplication.
- :class:`LandingWatcher` — watchdog (inotify or polling) → ``on_candidate(path)``;
  :func:`sweep` — every candidate now present (start-up and periodic reconciliation).
- :class:`PendingFiles` — rechecks incomplete files, releases each once, never waits forever.

The ingest actor (:mod:`streamcal.actors`) wires these to the ledger and the router.
"""

from .check import MAX_BYTES, Inspection, Status, content_sha256, group_by_content, inspect, inspect_asn
from ..boundary.layout import Layout, LayoutError, scan_layout
from .names import is_ignored, looks_like_fits_name
from .pending import PendingFiles
from .watcher import LandingWatcher, sweep

__all__ = ["MAX_BYTES", "Inspection", "Status", "content_sha256", "group_by_content", "inspect", "inspect_asn",
           "Layout", "LayoutError", "scan_layout", "is_ignored", "looks_like_fits_name",
           "PendingFiles", "LandingWatcher", "sweep"]
