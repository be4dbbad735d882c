"""Measurement helpers shared by the benchmarks."""

from __future__ import annotations

from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB (VmHWM).

    Not ``getrusage().ru_maxrss``: Linux carries ru_maxrss over fork+exec, so a benchmark child
    would report at least its parent's size at the fork.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")
