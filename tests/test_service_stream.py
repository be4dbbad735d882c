"""Issue 4 in the stream: a 4-point dither lands in random order, seconds apart, and becomes
one mosaic (`_i2d`) and one catalog (`_cat.ecsv`), made once the last member is calibrated;
with a member withheld, the late-member timeout makes a partial product, remade complete when
the member lands.  Real Ray (the session's cluster), real files, the real pipelines."""

from __future__ import annotations

import json
import random
import time
from dataclasses import replace
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from streamcal.config import AssociationConfig  # noqa: E402
from streamcal.ledger import Ledger  # noqa: E402
from streamcal.sinks.catalogs import CatalogDataset  # noqa: E402
from test_service import _config, _land  # noqa: E402
from test_service import ray_cluster  # noqa: E402,F401  (the session's cluster fixture)

PRODUCT = "jw01234-o001_t001_nircam_clear-f200w-sub160p"


@pytest.fixture(scope="module")
def dither(tmp_path_factory, refs):
    """4 raw exposures of a dithered star field (SUB160P, 5 groups, cosmic rays, pointing
    errors up to 1 arcsec)."""
    from streamcal.sim.program import simulate_dither

    out = tmp_path_factory.mktemp("dither")
    return simulate_dither(out, subarray="SUB160P", ngroups=5, star_count=60, seed=11, refs=refs).paths


def _service(landing: Path, products: Path, timeout: float):
    from streamcal.actors.service import Service

    config = _config(landing, products)
    return Service(replace(config, associations=AssociationConfig(late_member_timeout=timeout))).start()


def _level3(products: Path) -> dict[str, list[str]]:
    names = [p.name for p in products.iterdir() if p.name.startswith(PRODUCT)]
    return {suffix: sorted(n for n in names if n.endswith(suffix)) for suffix in ("_i2d.fits", "_cat.ecsv")}


def _wait_association(products: Path, members: int, timeout: float = 120):
    """The association record once it has been made (state done) from ``members`` members."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (products / "ledger.sqlite").exists():
            with Ledger(products / "ledger.sqlite", synchronous="NORMAL") as ledger:
                recs = ledger.associations()
                if recs and len(recs[0].members) == members and recs[0].state == "done":
                    return recs[0]
        time.sleep(0.2)
    raise TimeoutError(f"association not made from {members} members in {timeout} s")


def _member_history(products: Path) -> tuple[dict, list]:
    with Ledger(products / "ledger.sqlite", synchronous="NORMAL") as ledger:
        states = {}
        for rec in ledger._db.execute("SELECT id, name FROM files").fetchall():
            states[rec["name"]] = [e["state"] for e in ledger.events(rec["id"]) if e["event"] == e["state"]]
        return states, ledger.events()


def test_dither_in_random_order_makes_one_mosaic_after_the_last_member(ray_cluster, dither, tmp_path):
    """Members land in random order, 1.5 s apart, the service restarting after the second: one
    `_i2d` and one `_cat.ecsv`, made (once) after the fourth member's `_cal`."""
    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    order = random.Random(4).sample(list(dither), 4)
    service = _service(landing, products, timeout=600)
    try:
        for k, raw in enumerate(order):
            if k == 2:   # the service restarts between members: the buffer resumes from its file
                assert service.wait_idle(60), service.errors
                service.stop()
                with Ledger(products / "ledger.sqlite", synchronous="NORMAL") as ledger:
                    assert [r.state for r in ledger.in_flight()] == ["waiting_association"] * 2
                service = _service(landing, products, timeout=600)
            _land(raw, landing, how=("rename", "rsync")[k % 2])
            time.sleep(1.5)                                     # seconds between members
        rec = _wait_association(products, members=4)
        assert service.wait_idle(60), service.errors
    finally:
        service.stop()
    level3 = _level3(products)
    assert level3 == {"_i2d.fits": [f"{PRODUCT}_i2d.fits"], "_cat.ecsv": [f"{PRODUCT}_cat.ecsv"]}
    assert rec.state == "done" and not rec.partial and rec.runs == 1 and len(rec.members) == 4
    states, events = _member_history(products)
    for raw in dither:   # every member went through every stage, in order, once
        assert states[raw.name] == ["landed", "routed", "stage1", "stage2", "waiting_association", "stage3",
                                    "done"], states[raw.name]
    # made after the last member was calibrated: the firing follows every `_cal` product event
    cal_times = [e["time"] for e in events if e["event"] == "product" and e["detail"]["suffix"] == "cal"]
    (fired,) = [e["time"] for e in events if e["event"] == "fired"]
    assert len(cal_times) == 4 and fired >= max(cal_times)
    log = [json.loads(line) for line in (products / "events.jsonl").read_text().splitlines()]
    assert [e["file"] for e in log if e["event"] == "fired"] == [PRODUCT]          # mirrored once
    i2d = products / f"{PRODUCT}_i2d.fits"
    assert i2d.stat().st_mtime >= max((products / r.name.replace("uncal", "cal")).stat().st_mtime for r in dither)
    asn = json.loads((products / f"{PRODUCT}_asn.json").read_text())
    assert sorted(m["expname"] for m in asn["products"][0]["members"]) == sorted(
        r.name.replace("uncal", "cal") for r in dither)
    # each member's tweakreg catalog was made at stage 2 and named in the ASN; no quick-look
    # i2d for members bound for image3; the mosaic's catalog joined the Parquet dataset
    for member in asn["products"][0]["members"]:
        assert (products / member["tweakreg_catalog"]).is_file()
        assert not (products / member["expname"].replace("_cal", "_i2d")).exists()
    rows = CatalogDataset(products / "catalogs").read()
    assert set(rows.column("product").to_pylist()) == {PRODUCT} and rows.num_rows > 0


def test_withheld_member_gives_a_partial_product_remade_when_it_lands(ray_cluster, dither, tmp_path):
    """An ASN file dropped into the landing directory declares the 4 members (it is consumed,
    not quarantined); 3 land; the 3 s late-member timeout (counted from the ASN's arrival)
    makes the product partial with what is calibrated by then, each further member remakes it
    (ledger and header: ASNPART, ASNMISS names the missing one); the 4th lands: remade complete."""
    from astropy.io import fits

    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    asn = {"asn_type": "image3", "asn_id": "o001", "program": "01234", "asn_pool": "test_pool",
           "products": [{"name": PRODUCT, "members": [{"expname": r.name.replace("uncal", "cal"),
                                                       "exptype": "science"} for r in dither]}]}
    (landing / "jw01234-o001_image3_00001_asn.json").write_text(json.dumps(asn))
    service = _service(landing, products, timeout=3)
    try:
        for raw in dither[:3]:
            _land(raw, landing)
        partial = _wait_association(products, members=3)
        with fits.open(products / f"{PRODUCT}_i2d.fits") as hdul:
            marks = hdul[0].header["ASNPART"], hdul[0].header["ASNMISS"]
        first = (products / f"{PRODUCT}_i2d.fits").read_bytes()
        _land(dither[3], landing)
        complete = _wait_association(products, members=4)
        assert service.wait_idle(60), service.errors
    finally:
        service.stop()
    assert partial.partial and partial.runs >= 1
    assert marks == (True, dither[3].name.replace("uncal", "cal"))
    assert not complete.partial and complete.runs == partial.runs + 1
    with fits.open(products / f"{PRODUCT}_i2d.fits") as hdul:
        assert hdul[0].header["ASNPART"] is False
    assert (products / f"{PRODUCT}_i2d.fits").read_bytes() != first
    assert _level3(products) == {"_i2d.fits": [f"{PRODUCT}_i2d.fits"], "_cat.ecsv": [f"{PRODUCT}_cat.ecsv"]}
    assert not (products / "quarantine").exists() or not list((products / "quarantine").iterdir())
    states, _ = _member_history(products)
    assert states["jw01234-o001_image3_00001_asn.json"] == ["landed", "routed", "done"]
    assert states[dither[0].name][-3:] == ["waiting_association", "stage3", "done"]      # made once, partial
    assert states[dither[3].name][-3:] == ["waiting_association", "stage3", "done"]      # the remake
    # events.jsonl mirrors the ledger: one `fired` line per firing (the partial one, the remake)
    log = [json.loads(line) for line in (products / "events.jsonl").read_text().splitlines()]
    fired = [e for e in log if e["event"] == "fired"]
    assert len(fired) == complete.runs and all(e["file"] == PRODUCT for e in fired)
    assert [e["detail"]["partial"] for e in fired][-1] is False
