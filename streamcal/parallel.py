"""Spread independent parts of one step over processes.

For kernels whose C code holds the GIL (drizzle's ``tdriz``), threads do not help; separate
processes do.  The first part always runs in the calling process and the others in helper
processes that live as long as the caller (a stream worker keeps them warm between exposures),
so a call costs only the pickling of its parts, not process start-up.

How many processes follows stcal's ``maximum_cores`` convention: ``"none"`` or ``"1"``, ``"quarter"``,
``"half"``, ``"all"`` of the CPUs this process may run on, or a number.

A helper is ``python -c 'streamcal.parallel.serve()'`` talking pickles over its stdin/stdout:
started fresh (never forked from a possibly threaded Ray worker), without re-running the
caller's main script (as multiprocessing's spawn would), and it ends by itself when the caller
goes away (its stdin closes).  If a helper dies, its part is computed in the calling process and
a new helper is started next time.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import subprocess
import sys
import threading
from typing import Any, Callable, Sequence, TypeVar

from . import memory

T = TypeVar("T")

_FRACTIONS = {"none": 0.0, "quarter": 0.25, "half": 0.5, "all": 1.0}


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_cores(maximum_cores: str | int, cpus: int | None = None) -> int:
    """Number of processes for ``maximum_cores`` (at least 1, at most the CPUs available).

    Examples
    --------
    >>> resolve_cores("half", cpus=8), resolve_cores("all", cpus=2), resolve_cores("none", cpus=8)
    (4, 2, 1)
    >>> resolve_cores("3", cpus=2), resolve_cores(1, cpus=2)
    (2, 1)
    """
    cpus = available_cpus() if cpus is None else cpus
    text = str(maximum_cores).strip().lower()
    if text in _FRACTIONS:
        wanted = int(cpus * _FRACTIONS[text])
    else:
        try:
            wanted = int(text)
        except ValueError:
            raise ValueError(f"maximum_cores must be none, quarter, half, all or a number, got {maximum_cores!r}") from None
    return max(1, min(wanted, cpus))


def split(count: int, parts: int) -> list[range]:
    """``count`` items in ``parts`` contiguous, nearly equal ranges (no empty range but for
    ``count`` 0, which gives one empty range).

    >>> split(5, 2), split(1, 3)
    ([range(0, 3), range(3, 5)], [range(0, 1)])
    """
    parts = max(1, min(parts, count))
    bounds = [round(k * count / parts) for k in range(parts + 1)]
    return [range(bounds[k], bounds[k + 1]) for k in range(parts)]


# ------------------------------------------------------------------------------ helpers

class _Helper:
    """One helper process and its pipes."""

    def __init__(self):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        self.proc = subprocess.Popen([sys.executable, "-c", "from streamcal.parallel import serve; serve()"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)

    def send(self, func: Callable, args: tuple) -> None:
        pickle.dump((func, args), self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def receive(self) -> tuple[bool, Any]:
        """``(True, result)`` or ``(False, the exception func raised)``."""
        return pickle.load(self.proc.stdout)

    def close(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            try:
                pipe.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


_lock = threading.Lock()
_helpers: list[_Helper] = []


def _take(count: int) -> list[_Helper]:
    """``count`` live helpers (started when missing); call with ``_lock`` held."""
    _helpers[:] = [h for h in _helpers if h.proc.poll() is None]
    while len(_helpers) < count:
        _helpers.append(_Helper())
    return _helpers[:count]


def _drop(helper: _Helper) -> None:
    helper.proc.kill()
    helper.close()
    if helper in _helpers:
        _helpers.remove(helper)


def shutdown() -> None:
    """Stop the helper processes (they are started again when needed)."""
    with _lock:
        for helper in _helpers:
            helper.close()
        _helpers.clear()


atexit.register(shutdown)


def map_parts(func: Callable[..., T], parts: Sequence[tuple], processes: int) -> list[T]:
    """``[func(*args) for args in parts]``, the parts after the first in helper processes.

    Parameters
    ----------
    func : callable
        A module-level function (it is pickled by reference); its arguments and result are
        pickled, so parts should carry what they need and no more.
    parts : sequence of tuple
        Positional arguments of each call; at most ``processes`` of them run at once.
    processes : int
        Processes to use including this one; 1 runs everything here.

    Returns
    -------
    list
        The results in the order of ``parts``.  Exceptions raised by ``func`` propagate.
    """
    if processes <= 1 or len(parts) <= 1:
        return [func(*args) for args in parts]
    results: list = []
    for start in range(0, len(parts), processes):
        results += _map_round(func, parts[start:start + processes])
    return results


def _map_round(func: Callable[..., T], parts: Sequence[tuple]) -> list[T]:
    with _lock:
        helpers = _take(len(parts) - 1)
        sent = []
        for helper, args in zip(helpers, parts[1:]):
            try:
                helper.send(func, args)
                sent.append(True)
            except OSError:  # helper gone
                _drop(helper)
                sent.append(False)
        # every reply is read before anything is raised: an unread one would answer the next call
        outcomes = [_outcome(func, parts[0])]
        for helper, args, ok in zip(helpers, parts[1:], sent):
            try:
                outcomes.append(helper.receive() if ok else _outcome(func, args))
            except (EOFError, OSError, pickle.UnpicklingError):  # died while working: do it here
                _drop(helper)
                outcomes.append(_outcome(func, args))
    return _values(outcomes)


def _values(outcomes: Sequence[tuple[bool, Any]]) -> list:
    """The results of ``(ok, value)`` outcomes; the first failure's exception is raised."""
    for ok, value in outcomes:
        if not ok:
            raise value
    return [value for _, value in outcomes]


def _outcome(func: Callable, args: tuple) -> tuple[bool, Any]:
    try:
        return True, func(*args)
    except Exception as exc:
        return False, exc


def warm_up(processes: int, modules: Sequence[str] = (), prefault_mb: int = 0) -> list[int]:
    """Start the helper processes now, import ``modules`` in them and take ``prefault_mb`` of
    memory in each (:mod:`streamcal.memory`): a worker's first exposure would otherwise wait for
    interpreter start-up, imports and fresh memory.  Returns their process ids."""
    with _lock:
        helpers = _take(max(processes - 1, 0))
        for helper in helpers:
            helper.send(_ready, (tuple(modules), prefault_mb))
        replies = [helper.receive() for helper in helpers]
    return _values(replies)


def _ready(modules: Sequence[str], prefault_mb: int) -> int:
    for name in modules:
        importlib.import_module(name)
    memory.prefault(prefault_mb)
    return os.getpid()


def serve() -> None:
    """The helper's loop: read ``(func, args)`` pickles from stdin, write ``(ok, result)``
    pickles to stdout, until stdin closes.  A helper keeps the memory it frees
    (:func:`streamcal.memory.retain_freed_memory`): it serves the same kind of part again and again."""
    memory.retain_freed_memory()
    inbox = sys.stdin.buffer
    outbox = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not corrupt the pipe
    while True:
        try:
            func, args = pickle.load(inbox)
        except EOFError:
            return
        reply = _outcome(func, args)  # an exception is sent back and raised in the caller
        pickle.dump(reply, outbox, protocol=pickle.HIGHEST_PROTOCOL)
        outbox.flush()
