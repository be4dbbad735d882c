"""Association state in the ledger: time per product over a long stream (issue 9, "flat cost").

Streams simulated members (8-member NIRCam observations: 2 filters x 2 detectors x 2 dithers,
50 observations per program, each observation's members in random order) through
:class:`streamcal.associations.AssociationStore` on a fresh ledger, one store call (one
transaction) per product, and prints the median time per product over the first and the last
``--window`` products, their ratio (goal: within 1.5x) and the total.  The same members also
stream through the whole orchestration core (:class:`streamcal.flow.Flow`: landing, stage 1,
stage 2, the association, stage 3 when an observation's candidate completes) with stand-in
workers, timed per member from landing to quiet.  ``--baseline N`` also times the first N
members through the buffer as it was before (every product regroups its whole program), to show
the growth the store removes.

    python benchmarks/bench_associations.py [--members 2000] [--window 200] [--baseline 0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from streamcal.associations import AssociationStore  # noqa: E402
from streamcal.ledger import Ledger  # noqa: E402
from streamcal.testing import FakeClock  # noqa: E402
from test_association_store import WholeProgram, member_stream  # noqa: E402


def time_store(members, synchronous: str) -> list[float]:
    """Seconds per ``add_member`` call, in stream order."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = FakeClock()
        ledger = Ledger(Path(tmp) / "ledger.sqlite", clock=clock, synchronous=synchronous)
        store = AssociationStore(ledger, late_member_timeout=600.0, clock=clock)
        times = []
        for a in members:
            start = time.perf_counter()
            store.add_member(a.file_id, a.path, a.header)
            times.append(time.perf_counter() - start)
        ledger.close()
    return times


def time_flow(members, synchronous: str) -> list[float]:
    """Seconds per member through the orchestration core: landed, both stages run by stand-in
    workers, joined to its association, stage 3 run when the candidate completes."""
    from dataclasses import replace

    from streamcal.associations import write_firing_asn
    from streamcal.config import ServiceConfig
    from streamcal.flow import Arrival as Landed, ArrivalKind, Flow
    from streamcal.router import route
    from streamcal.testing import StandInWorker, drive

    with tempfile.TemporaryDirectory() as tmp:
        landing, products, clock = Path(tmp) / "landing", Path(tmp) / "products", FakeClock()
        landing.mkdir()
        config = replace(ServiceConfig(), landing=landing, products=products)
        ledger = Ledger(products / "ledger.sqlite", clock=clock, synchronous=synchronous)
        headers = {Path(a.path).name.rsplit("_", 1)[0]: a.header for a in members}

        def header_of(path):
            return headers[Path(path).name.rsplit("_", 1)[0]]

        flow = Flow(ledger, config, AssociationStore(ledger, 600.0, clock=clock),
                    write_asn=lambda firing: write_firing_asn(firing, products), read_header=header_of,
                    route_file=lambda path: route(header_of(path)), quarantine=lambda *move: None, clock=clock)
        worker, times = StandInWorker(products), []
        for a in members:
            raw = landing / f"{Path(a.path).name.rsplit('_', 1)[0]}_uncal.fits"
            raw.write_text(raw.name)
            start = time.perf_counter()
            drive(flow, worker, flow.land([Landed(ArrivalKind.EXPOSURE, str(raw), raw.name, 1,
                                                  route=route(a.header))]), clock)
            times.append(time.perf_counter() - start)
        ledger.close()
    return times


def time_whole_program(members) -> list[float]:
    """Seconds per product when every product regroups its whole program (before issue 9)."""
    buf = WholeProgram(late_member_timeout=600.0, clock=FakeClock())
    times = []
    for a in members:
        start = time.perf_counter()
        buf.add(a.path, a.header, file_id=a.file_id)
        times.append(time.perf_counter() - start)
    return times


def figures(times: list[float], window: int) -> dict:
    """Median ms per product over the first and last ``window`` products, ratio, total s."""
    start, end = statistics.median(times[:window]), statistics.median(times[-window:])
    return {"products": len(times), "start_ms": round(1e3 * start, 2), "end_ms": round(1e3 * end, 2),
            "ratio": round(end / start, 3), "total_s": round(sum(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument("--baseline", type=int, default=0, help="members through the old behaviour (slow)")
    parser.add_argument("--synchronous", default="FULL", choices=("FULL", "NORMAL"))
    args = parser.parse_args()
    members = member_stream(args.members)
    out = {"store": figures(time_store(members, args.synchronous), args.window),
           "flow": figures(time_flow(members, args.synchronous), args.window),
           "synchronous": args.synchronous}
    if args.baseline:
        out["whole_program"] = figures(time_whole_program(members[:args.baseline]),
                                       min(args.window, args.baseline // 4))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
