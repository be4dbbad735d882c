"""The main job of the quick start: simulate a small observing program, land it over time in a
landing directory (the ways real transfers land files), run the streaming service on it with a
progress display, and end with tables of what was produced and where: per exposure, and the
stage-3 products (the NIRCam dither becomes one mosaic ``_i2d`` and one catalog ``_cat.ecsv``).

Stages 1 and 2 run for every exposure whose pipelines exist; stage 3 for imaging
(calwebb_image3).  Pipelines that do not exist yet (tso3 ...) are reported as such — never faked.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from . import registry, router, sim
from .config import IngestConfig, RayConfig, ServiceConfig
from .ledger import Ledger
from .refs import ReferenceSet
from .testing import land_atomic, land_chunked, land_renamed_in, land_rsync_style

_LANDINGS = ("renamed in", "atomic", "chunked", "rsync")


def _short(pipeline: str | None) -> str:
    return registry.short_name(pipeline) if pipeline else ""


def demo_config(landing: Path, products: Path) -> ServiceConfig:
    """A lean configuration for a laptop: a local Ray cluster of 2 CPUs without the dashboard;
    no memory taken ahead by the workers (the demo's exposures are small subarrays)."""
    base = ServiceConfig()
    pools = {name: replace(pool, prefault_mb=0) for name, pool in base.pools.items()}
    return replace(base, landing=landing, products=products, loop_interval=0.05, pools=pools,
                   ray=RayConfig(num_cpus=2, include_dashboard=False, object_store_mb=200),
                   ingest=IngestConfig(sweep_interval=1.0, stability_seconds=1.0, poll_interval=0.2))


def _land_over_time(raws: list[Path], landing: Path, staging: Path, pause: float, done: threading.Event) -> None:
    try:
        for k, raw in enumerate(raws):
            how = _LANDINGS[k % len(_LANDINGS)]
            if how == "renamed in":
                land_renamed_in(raw, landing, staging)
            elif how == "atomic":
                land_atomic(raw, landing)
            elif how == "chunked":
                land_chunked(raw, landing, chunks=3, pause=0.1)
            else:
                land_rsync_style(raw, landing)
            time.sleep(pause)
    finally:
        done.set()


def _progress(status: dict, landed: int, total: int) -> Group:
    table = Table(title=f"streamcal service — {landed}/{total} files landed", expand=False)
    for column in ("stage", "queued", "in flight", "done", "stopped", "quarantined"):
        table.add_column(column, justify="right" if column != "stage" else "left")
    ledger_stages = status.get("stages", {})
    for name in sorted(set(ledger_stages) | set(status.get("pools", {}))):
        if name == "-":
            continue
        states = ledger_stages.get(name, {})
        pool = status.get("pools", {}).get(name, {})
        table.add_row(_short(name), str(pool.get("queued", 0)), str(pool.get("in_flight", 0)),
                      str(states.get("done", 0) + states.get("waiting_association", 0)),
                      str(states.get("failed", 0)), str(states.get("quarantined", 0)))
    table.caption = ("done includes exposures waiting for their association; stopped: the next stage is "
                     "not implemented yet, or an error (see the tables at the end)")
    return Group(table)


def _outcome(rec, products: list) -> tuple[str, str]:
    names = ", ".join(Path(p.path).stem.rsplit("_", 1)[-1] for p in products if p.stage != registry.IMAGE3)
    if rec.state == "quarantined":
        return "—", f"[red]quarantined: {rec.error}[/red]"
    if rec.state == "failed" and rec.error_check == "not_implemented":  # the error names the pipeline
        return names, f"stopped: {(rec.error or rec.stage or '').split()[0].removeprefix('calwebb_')} not implemented yet"
    if rec.state == "failed":
        return names, f"[red]failed: {rec.error}[/red]"
    return names, rec.state


def run_demo(work_dir: str | Path | None = None, *, seed: int = 0, pause: float = 0.3) -> int:
    """Simulate, land over time, run the service, print a table of what was produced and where.
    Returns an exit code (1 if any exposure failed for a reason other than a stage not
    implemented yet)."""
    from .actors.service import Service

    console = Console(width=None if Console().is_terminal else 132)
    work = Path(work_dir or tempfile.mkdtemp(prefix="streamcal-demo-"))
    landing, products, staging = work / "landing", work / "products", work / "staging"
    for d in (landing, products, staging):
        d.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]streamcal demo[/bold] — work directory {work}")
    with console.status("simulating a small observing program ..."):
        raws = sorted(sim.simulate_program(work / "simulated", seed=seed, refs=ReferenceSet(),
                                           truth_dir=work / "truth"))
    console.print(f"simulated {len(raws)} raw exposures; landing them in {landing} over time "
                  f"({', '.join(_LANDINGS)})")
    service = Service(demo_config(landing, products))
    with console.status("starting the service (Ray) ..."):
        service.start()
    landed = threading.Event()
    lander = threading.Thread(target=_land_over_time, args=(raws, landing, staging, pause, landed), daemon=True)
    try:
        lander.start()
        with Live(console=console, refresh_per_second=4, transient=not console.is_terminal) as live:
            while not landed.is_set():
                live.update(_progress(service.status(), len(list(landing.glob("*_uncal.fits"))), len(raws)))
                time.sleep(0.25)
            idle = service.wait_idle(300)
            live.update(_progress(service.status(), len(raws), len(raws)))
    finally:
        lander.join(60)
        service.stop()
    if not idle:
        console.print("[red]the service did not finish within 300 s[/red]")
    return _report(console, products, raws) or (0 if idle else 1)


def _report(console: Console, products: Path, raws: list[Path]) -> int:
    table = Table(title=f"products in {products}")
    table.add_column("exposure", no_wrap=True)
    for column in ("EXP_TYPE", "stage 1", "products", "state", "stages 2-3"):
        table.add_column(column)
    failures = 0
    with Ledger(products / "ledger.sqlite", synchronous="NORMAL") as ledger:
        for raw in raws:
            rec = ledger.by_sha256(_sha(raw))
            if rec is None:
                table.add_row(raw.name, "", "", "", "[red]never landed[/red]", "")
                failures += 1
                continue
            route = router.Route(**rec.route) if rec.route else None
            names, state = _outcome(rec, ledger.products(rec.id))
            failures += state.startswith("[red]")
            later = " → ".join(_short(p) for p in (route.stage2, route.stage3) if p) if route else ""
            table.add_row(rec.name.removesuffix("_uncal.fits"), route.exp_type if route else "",
                          _short(route.stage1) if route else "", names, state, later or "—")
        mosaics = _mosaic_table(ledger, products)
    console.print(table)
    console.print(mosaics)
    return 1 if failures else 0


def _mosaic_table(ledger: Ledger, products: Path) -> Table:
    """One row per stage-3 product: its pipeline, members, partial or complete, and what it made
    (mosaic and catalog for image3, light curve for tso3)."""
    table = Table(title=f"stage 3: mosaics, catalogs and light curves (in {products})")
    table.add_column("association product", no_wrap=True)
    for column in ("pipeline", "members", "state", "made"):
        table.add_column(column)
    for rec in ledger.associations():
        state = rec.state + (" (partial)" if rec.partial else "")
        table.add_row(rec.product, _short(rec.pipeline), str(len(rec.members)),
                      state if rec.state != "failed" else f"[red]{state}[/red]", _made(products, rec.product))
    return table


def _made(products: Path, product: str) -> str:
    """What a stage-3 product left: ``i2d, cat: 57 sources`` or ``phot: 20 integrations``."""
    made = ["i2d"] if (products / f"{product}_i2d.fits").exists() else []
    for suffix, what in (("cat", "sources"), ("phot", "integrations")):
        table = products / f"{product}_{suffix}.ecsv"
        if table.exists():
            made.append(f"{suffix}: {_rows(table)} {what}")
    return ", ".join(made) or "—"


def _rows(ecsv: Path) -> int:
    """Data rows of an ECSV table (lines after the commented header and the column-name line)."""
    with open(ecsv) as fh:
        return max(0, sum(1 for line in fh if not line.startswith("#")) - 1)


def _sha(path: Path) -> str:
    from .ingest import content_sha256

    return content_sha256(path)
