"""The main job of the quick start: simulate a small observing program into a landing
directory and calibrate every exposure through the stage it can reach today.

Stage 1 runs for every exposure; stage 2 and 3 are reported as not implemented yet (they
come with later issues) — never faked.  The streaming service (issue 3) replaces the loop
below with the Ray actors.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from . import router, sim
from .fitsio import read_header
from .pipelines import calibrate_file
from .refs import ReferenceSet


def _short(pipeline: str) -> str:
    return pipeline.removeprefix("calwebb_")


def _calibrate_one(path: Path, products_dir: Path, refs: ReferenceSet) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        written = calibrate_file(path, products_dir, refs)
        outcome = ", ".join(p.name.rsplit("_", 1)[-1].removesuffix(".fits") for p in written)
    except Exception as exc:  # the demo reports every failure in its table and goes on
        outcome = f"[red]failed: {type(exc).__name__}: {exc}[/red]"
    return outcome, time.perf_counter() - start


def run_demo(work_dir: str | Path | None = None, *, seed: int = 0) -> int:
    """Simulate, calibrate, print a table of what was produced and where.  Returns an exit code."""
    console = Console(width=None if Console().is_terminal else 132)
    work = Path(work_dir or tempfile.mkdtemp(prefix="streamcal-demo-"))
    landing, products = work / "landing", work / "products"
    console.print(f"[bold]streamcal demo[/bold] — work directory {work}")
    with console.status("simulating a small observing program ..."):
        raws = sim.simulate_program(landing, seed=seed, truth_dir=work / "truth")
    console.print(f"simulated {len(raws)} raw exposures into {landing}")
    refs = ReferenceSet()
    table = Table(title=f"stage-1 products in {products}")
    table.add_column("exposure", no_wrap=True)
    for column in ("EXP_TYPE", "stage 1", "products", "s", "stages 2-3 (not implemented yet)"):
        table.add_column(column)
    failures = 0
    for raw in sorted(raws):
        route = router.route(read_header(raw))
        with console.status(f"{route.stage1}: {raw.name}"):
            outcome, seconds = _calibrate_one(raw, products, refs)
        failures += outcome.startswith("[red]")
        later = " → ".join(_short(p) for p in (route.stage2, route.stage3) if p) or "—"
        table.add_row(raw.name.removesuffix("_uncal.fits"), route.exp_type, _short(route.stage1),
                      outcome, f"{seconds:.1f}", later)
    console.print(table)
    return 1 if failures else 0
