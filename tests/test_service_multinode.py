"""The service on a two-node Ray cluster (two raylets on this host, in a subprocess so that it
does not meet the session's cluster): stage workers placed on the worker node by a custom
resource and a node label; products appear as on one node."""

import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("ray")

SCRIPT = textwrap.dedent('''
    import sys
    from dataclasses import replace
    from pathlib import Path

    import ray
    from ray.cluster_utils import Cluster

    from streamcal.actors.service import Service
    from streamcal.config import IngestConfig, RetryConfig, ServiceConfig
    from streamcal.refs import ReferenceSet
    from streamcal.sim import simulate_to_directory

    tmp = Path(sys.argv[1])
    cluster = Cluster(initialize_head=True, head_node_args=dict(
        num_cpus=1, include_dashboard=False, object_store_memory=100 * 1024 ** 2, labels={"role": "ingest"}))
    worker = cluster.add_node(num_cpus=1, resources={"stage_node": 2}, object_store_memory=100 * 1024 ** 2,
                              labels={"role": "stage"})
    ray.init(address=cluster.address, log_to_driver=False)
    raw = simulate_to_directory(tmp / "stock", refs=ReferenceSet(), detector="NRCA1", exp_type="NRC_DARK",
                                subarray="SUB64P", ngroups=3)[0]
    landing, products = tmp / "landing", tmp / "products"
    landing.mkdir()
    config = ServiceConfig(landing=landing, products=products, loop_interval=0.05,
                           retries=RetryConfig(backoff_seconds=0.2),
                           ingest=IngestConfig(sweep_interval=0.5, stability_seconds=0.5))
    pools = dict(config.pools)
    pools["calwebb_dark"] = replace(pools["calwebb_dark"], resources={"stage_node": 1},
                                    label_selector={"role": "stage"})
    service = Service(replace(config, pools=pools)).start()
    (landing / raw.name).write_bytes(raw.read_bytes())
    idle = service.wait_idle(60)
    handle = service.pools["calwebb_dark"].workers[0]
    node = ray.get(handle.__ray_call__.remote(lambda self: ray.get_runtime_context().get_node_id()))
    service.stop()
    ray.shutdown()
    cluster.shutdown()
    print("RESULT", idle, node == worker.node_id, sorted(p.name for p in products.glob("*.fits")))
''')


def test_stage_workers_run_on_the_worker_node(tmp_path):
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=240)
    result = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert proc.returncode == 0 and result, proc.stderr[-3000:]
    assert result[0] == "RESULT True True ['jw01234001001_02101_00001_nrca1_dark.fits']"
