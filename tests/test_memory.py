"""streamcal.memory: a worker keeps the memory it frees (glibc mallopt), and can take it up front.

Yardstick: the kernel's own account of the process (VmRSS in /proc), in a fresh interpreter
so the test process keeps its usual allocator."""

from __future__ import annotations

import json
import subprocess
import sys

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
