"""streamcal.memory: a worker keeps the memory it frees (glibc mallopt), and can take it up front.

Yardstick: the kernel's own account of the process (VmRSS in /proc), in a fresh interpreter
so the test process keeps its usual allocator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from streamcal import memory

_PROBE = """
import json, re, numpy as np
from streamcal import memory
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) >> 10
out = {"retain": memory.retain_freed_memory() if RETAIN else False, "start": rss()}
block = np.ones(300 << 18, np.float32)   # 300 MB, touched
out["used"] = rss()
del block
out["freed"] = rss()
memory.prefault(200)
out["prefaulted"] = rss()
print(json.dumps(out))
"""


def _probe(retain: bool) -> dict:
    code = f"RETAIN = {retain}\n" + _PROBE
    return json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                     check=True).stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt and /proc are Linux's")
def test_freed_memory_stays_with_the_process():
    """Without retention glibc unmaps a freed 300 MB block at once (RSS falls back); with it the
    block stays resident (RSS within 30 MB of its peak) and prefault reuses it instead of
    growing (200 MB fit in the 300 MB kept)."""
    plain, kept = _probe(False), _probe(True)
    assert plain["used"] - plain["start"] > 280 and plain["freed"] - plain["start"] < 30
    assert kept["retain"] is True
    assert kept["used"] - kept["freed"] < 30
    assert kept["prefaulted"] - kept["freed"] < 30


def test_prefault_nothing_is_a_no_op():
    memory.prefault(0)


_LONG_RUN = """
import json, re, sys
from pathlib import Path
from streamcal import memory, parallel, sim
from streamcal.pipelines import calibrate_file
from streamcal.refs import ReferenceSet
sys.path.insert(0, TESTS)
from mosaickit import dither, star_field
from streamcal.steps.resample import Params, resample_images

def rss(pid="self"):
    return int(re.search(r"VmRSS:\\s+(\\d+)", open(f"/proc/{pid}/status").read()).group(1)) >> 10

memory.retain_freed_memory()
refs = ReferenceSet()
work = Path(WORK)
raw = sim.simulate_exposure(sim.ExposureConfig(detector="NRCA1", exp_type="NRC_IMAGE", subarray="SUB400P",
                                               ngroups=5, seed=3), refs).write(work / "landing", work / "truth")
images = dither(4, stars=star_field(6, seed=2), noise=0.05)
main, helper = [], []
for k in range(ROUNDS):
    calibrate_file(raw, work / "products", refs)             # stage 1 of one exposure, again
    resample_images(images, Params(maximum_cores="2"))        # a mosaic, drizzled in two processes
    main.append(rss())
    helper.append(sum(rss(h.proc.pid) for h in parallel._helpers))
print(json.dumps({"main": main, "helper": helper}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt and /proc are Linux's")
def test_a_retaining_worker_does_not_grow_per_exposure(tmp_path):
    """The service runs for days: a worker that keeps what it frees must level off at its
    high-water mark, not grow with every exposure.  12 rounds of stage 1 on a subarray exposure
    plus a 4-image mosaic in two processes: after the 4th round neither the worker's nor its
    helper's RSS grows by more than 8 MB (allocator noise; a leak of the per-round arrays would
    add >= 10 MB per round)."""
    tests = str(Path(__file__).parent)
    code = f"TESTS = {tests!r}\nWORK = {str(tmp_path)!r}\nROUNDS = 12\n" + _LONG_RUN
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert out.returncode == 0, out.stderr[-2000:]
    rss = json.loads(out.stdout.strip().splitlines()[-1])
    for name in ("main", "helper"):
        series = rss[name]
        assert max(series[4:]) - series[3] <= 8, (name, series)


_LIMITED = """
import json, numpy as np
from streamcal import memory
out = {"set": memory.limit_private_memory(512 << 20), "limit": memory.private_memory_limit()}
small = np.ones(200 << 20, np.uint8)          # 200 MB: within the cap
out["small"] = int(small[::4096].sum())
try:
    np.ones(600 << 20, np.uint8)              # 600 MB: beyond it
    out["big"] = "allocated"
except MemoryError:
    out["big"] = "MemoryError"
memory.retain_freed_memory()                 # heap (brk) allocations are private memory too
try:
    np.ones(600 << 20, np.uint8)
    out["heap"] = "allocated"
except MemoryError:
    out["heap"] = "MemoryError"
print(json.dumps(out))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA counts anonymous mappings on Linux >= 4.7")
def test_private_memory_limit_turns_a_runaway_allocation_into_memory_error():
    """Under a 512 MB cap a 200 MB array is fine and a 600 MB one raises MemoryError, whether
    numpy's memory comes from mmap or (with retain_freed_memory) from the heap; the process
    carries on either way."""
    got = json.loads(subprocess.run([sys.executable, "-c", _LIMITED], capture_output=True, text=True,
                                    check=True).stdout)
    assert got == {"set": True, "limit": 512 << 20, "small": (200 << 20) // 4096, "big": "MemoryError",
                   "heap": "MemoryError"}
