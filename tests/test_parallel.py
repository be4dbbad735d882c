"""streamcal.parallel: parts of a step in helper processes (stcal's maximum_cores convention).

Yardsticks: the same function called in this process (results identical, in order), process
ids (the parts really ran elsewhere), and the operating system's view of the helpers' lives."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from streamcal import parallel


def _pid_and_square(x):
    return os.getpid(), x * x


def _fail_after_first(x):
    if x:
        raise ValueError(f"bad part {x}")
    return x


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead too
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_resolve_cores_and_split():
    assert parallel.resolve_cores("quarter", cpus=8) == 2 and parallel.resolve_cores("all") == parallel.available_cpus()
    with pytest.raises(ValueError, match="maximum_cores"):
        parallel.resolve_cores("most")
    assert parallel.split(7, 3) == [range(0, 2), range(2, 5), range(5, 7)] and parallel.split(0, 2) == [range(0, 0)]


def test_parts_run_in_helpers_in_order():
    """Part 0 here, part 1 in a helper; 5 parts over 2 processes run in 3 rounds; same results
    as a serial run, in the order of the parts."""
    out = parallel.map_parts(_pid_and_square, [(k,) for k in range(5)], processes=2)
    assert [v for _, v in out] == [0, 1, 4, 9, 16]
    pids = [p for p, _ in out]
    assert pids[0] == pids[2] == pids[4] == os.getpid()
    assert pids[1] == pids[3] != os.getpid()
    assert parallel.map_parts(_pid_and_square, [(3,)], processes=2) == [(os.getpid(), 9)]


def test_exception_in_a_helper_reaches_the_caller():
    with pytest.raises(ValueError, match="bad part 1"):
        parallel.map_parts(_fail_after_first, [(0,), (1,)], processes=2)
    with pytest.raises(ValueError, match="bad part 2"):  # here; the helper's reply is still read
        parallel.map_parts(_fail_after_first, [(2,), (0,)], processes=2)
    # the helper survives a failed part
    (_, a), (pid, b) = parallel.map_parts(_pid_and_square, [(2,), (3,)], processes=2)
    assert (a, b) == (4, 9) and pid != os.getpid()


def test_a_dead_helper_is_replaced():
    """A helper killed between calls: its part is computed here or by a new helper, never lost."""
    (helper_pid,) = parallel.warm_up(2, ["json"])
    os.kill(helper_pid, signal.SIGKILL)
    time.sleep(0.2)
    out = parallel.map_parts(_pid_and_square, [(1,), (2,)], processes=2)
    assert [v for _, v in out] == [1, 4]
    (new_pid,) = parallel.warm_up(2)
    assert new_pid != helper_pid and _alive(new_pid)


def test_helpers_end_with_their_caller(tmp_path):
    """A caller killed with SIGKILL (no atexit) leaves no helper behind: the helper's stdin closes."""
    code = ("from streamcal import parallel; import sys, time; "
            "print(*parallel.warm_up(3), flush=True); time.sleep(60)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    helpers = [int(p) for p in proc.stdout.readline().split()]
    assert helpers and all(_alive(p) for p in helpers)
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in helpers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in helpers)
