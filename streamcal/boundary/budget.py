"""The memory budget: what a file may make this process allocate, checked before it does.

Readers and pipelines compute what the declared shapes will cost (shape x dtype of every array
they are about to make) and call :func:`check_budget` first: a file asking for more is refused
as bad input (``check="budget"``) instead of being allocated until the worker or the host runs
out.  The budget is a per-process setting (a stage worker sets its pool's memory budget with
:func:`set_memory_budget` at start) that any call may override.

Default: half the physical memory, or ``STREAMCAL_MEMORY_BUDGET_MB`` when set.
"""

from __future__ import annotations

import math
import os

from ..errors import BadInputError

__all__ = ["memory_budget", "set_memory_budget", "check_budget", "STAGE1_WORKING_SET"]

#: Peak memory of stage 1 in units of the float32 ramp it calibrates: the ramp, GROUPDQ, the
#: references cut to the window, the fit's planes and per-integration products.  Measured
#: 932 MB peak for a 168 MB NIRCam full-frame ramp in one process, libraries included (README,
#: Performance); 5 leaves room for several integrations' products.
STAGE1_WORKING_SET = 5.0

_budget: int | None = None


def _default() -> int:
    env = os.environ.get("STREAMCAL_MEMORY_BUDGET_MB", "").strip()
    if env:
        try:
            return max(1, int(float(env) * 2**20))
        except ValueError:
            pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def memory_budget() -> int:
    """This process's memory budget, bytes."""
    return _budget if _budget is not None else _default()


def set_memory_budget(nbytes: int | None) -> None:
    """Set this process's memory budget in bytes (``None``: back to the default)."""
    global _budget
    _budget = None if nbytes is None else max(1, int(nbytes))


def check_budget(path: str | os.PathLike, what: str, nbytes: float, budget: int | None = None) -> None:
    """Refuse an allocation of ``nbytes`` for ``what`` that exceeds the budget.

    Parameters
    ----------
    path : path-like
        The file asking for it (named in the error).
    what : str
        What the bytes are for, for the reason (``"reading SCI (6, 100, 2048, 2048) as float32"``).
    nbytes : float
        Bytes the allocation would take (a float: products of hostile sizes may be huge).
    budget : int, optional
        Bytes allowed; default :func:`memory_budget`.

    Raises
    ------
    BadInputError
        ``check="budget"``.
    """
    limit = memory_budget() if budget is None else budget
    if not math.isfinite(nbytes) or nbytes > limit:
        raise BadInputError(path, "budget", f"{what} needs {nbytes / 2**20:.6g} MiB, more than the memory "
                                            f"budget of {limit / 2**20:.0f} MiB (a stage worker's is 3/4 of "
                                            f"its pool's memory_limit_mb)")
