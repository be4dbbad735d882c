"""The service on two Ray nodes started with real ``ray start`` processes on this host
(``deploy/two_nodes.sh``: a head for the control actors, a worker node for the stage pools),
token auth on every command; ``streamcal run --address`` joins them.

Everything runs in processes this test starts, with their own ``--temp-dir``, ports and session:
the session's Ray cluster of the other tests is never touched (no ``ray stop``, which would kill
every Ray process on the host); the script stops what it started on SIGTERM, and whatever is
left of its process tree is killed by PID.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

psutil = pytest.importorskip("psutil")
pytest.importorskip("ray")

from streamcal.sim import simulate_to_directory  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

NODES = """
import json, ray, time
ray.init(address="{address}", log_to_driver=False)
for _ in range(100):
    if len([n for n in ray.nodes() if n["Alive"]]) == 2:
        break
    time.sleep(0.2)
print(json.dumps({{n["NodeID"]: n["Resources"].get("stage1", 0) for n in ray.nodes() if n["Alive"]}}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _states(products: Path) -> list[str]:
    try:
        db = sqlite3.connect(f"file:{products / 'ledger.sqlite'}?mode=ro", uri=True, timeout=5)
        try:
            return [r[0] for r in db.execute("SELECT state FROM files")]
        finally:
            db.close()
    except sqlite3.Error:
        return []


def _stop_tree(proc: subprocess.Popen, tree: list) -> list:
    """SIGTERM the script (it stops its children newest first), then kill what is left by PID."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(45)
    except subprocess.TimeoutExpired:
        proc.kill()
    _, alive = psutil.wait_procs(tree, timeout=10)
    for p in alive:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    return alive


def test_two_nodes_with_ray_start_place_stage_workers_on_the_worker(tmp_path, refs):
    darks = [simulate_to_directory(tmp_path / "stock", refs=refs, detector="NRCA1", exp_type="NRC_DARK",
                                   subarray="SUB64P", ngroups=3, observation=obs, seed=obs)[0] for obs in (5, 6)]
    landing, products = tmp_path / "landing", tmp_path / "products"
    landing.mkdir()
    ray_tmp = tempfile.mkdtemp(prefix="scray", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "CLIENT_PORT": str(_free_port()), "RAY_TMP": ray_tmp,
           "RAY": str(BIN / "ray"), "STREAMCAL": str(BIN / "streamcal"), "RAY_AUTH_MODE": "token"}
    log = open(tmp_path / "two_nodes.log", "wb")
    proc = subprocess.Popen(["bash", str(ROOT / "deploy" / "two_nodes.sh"), str(landing), str(products)],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    tree: list = []
    try:
        for raw in darks:                       # land while the cluster comes up: picked up either way
            shutil.copy(raw, landing / f".{raw.name}.part")
            os.replace(landing / f".{raw.name}.part", landing / raw.name)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and _states(products).count("done") < 2:
            assert proc.poll() is None, (tmp_path / "two_nodes.log").read_text()[-3000:]
            time.sleep(0.2)
        nodes = json.loads(subprocess.run([sys.executable, "-c", NODES.format(address=f"127.0.0.1:{port}")],
                                          env=env, capture_output=True, text=True, timeout=60).stdout)
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    finally:
        if not tree:
            try:
                tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
        leftover = _stop_tree(proc, tree)
        log.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    text = (tmp_path / "two_nodes.log").read_text()
    assert _states(products) == ["done", "done"], text[-3000:]
    assert sorted(p.name for p in products.glob("*.fits")) == sorted(r.name.replace("uncal", "dark") for r in darks)
    (worker,) = [node for node, slots in nodes.items() if slots == 4]
    assert len(nodes) == 2                                     # head + worker
    events = [json.loads(line) for line in (products / "events.jsonl").read_text().splitlines()]
    made_on = {e["detail"]["node"] for e in events if e["event"] == "product"}
    assert made_on == {worker}                                 # every product made on the worker node
    assert "stopping (draining" in text and not leftover       # stopped cleanly, nothing left behind
