"""Benchmark: many seeded hostile files through streamcal's input boundary.

    python benchmarks/bench_fuzz.py [--cases 10000] [--seed 0] [--detector1-every 33] [--workers 2]
                                    [--timeout 20] [--limit-gb 3] [--json results.json]

Every case is a valid small exposure (NIRCam SUB64P, MIRI SUB64) mutated one way -- byte
flips, truncation, absurd or wrongly typed header cards, wrong shapes and types, missing or
extra extensions, tile compression (RICE, GZIP, HCOMPRESS, PLIO), gzip under a .fits name,
headers without END, odd names -- and goes through the ingest check, the header read and
routing, the raw read and, every ``--detector1-every``-th case, ``calwebb_detector1``; each in a
worker process capped at ``--limit-gb`` of private memory (RLIMIT_DATA) with a ``--timeout``.
The summary counts cases, escapes (an exception that is not streamcal's own), hangs, crashed
workers, allocations over the limit and partial products, per mutation kind, and lists each
distinct escape with the cases that show it (``--seed S --first N --cases 1`` replays case N).
The test suite runs the same harness on 2 000 cases (``tests/test_fuzz.py``).
"""

from __future__ import annotations

import sys

from streamcal.boundary.fuzz import main

if __name__ == "__main__":
    sys.exit(main(["--cases", "10000", "--detector1-every", "33", *sys.argv[1:]]))  # later flags win
