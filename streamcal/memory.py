"""Keep a long-lived worker's memory warm.

On virtual machines whose host takes back the memory a guest frees (balloon free-page
reporting, DAMON reclaim -- the 2-core machines streamcal is measured on), touching memory the
process has not used before costs host page faults: 1.6-2.3 s per GB measured, against
0.05-0.12 s per GB for memory the process reuses.  glibc returns large blocks (> 32 MB, always
mmapped) to the kernel on ``free``, so every full-frame exposure would pay those faults again a
few seconds after the last one freed the same amount.

:func:`retain_freed_memory` makes this process keep what it frees (its resident size stays at
its high-water mark instead of falling back between exposures, a constant, not a growth), and
:func:`prefault` takes that high-water mark up front so the first exposure of a new worker is as
quick as the next ones.  Both are no-ops where glibc's ``mallopt`` is absent.

:func:`limit_private_memory` bounds what one worker can allocate, so that one hostile or huge
file ends in a ``MemoryError`` inside its own worker instead of the host running out of
memory and taking other exposures' work with it.
"""

from __future__ import annotations

import ctypes
import sys

import numpy as np

__all__ = ["retain_freed_memory", "prefault", "limit_private_memory", "private_memory_limit"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1


def retain_freed_memory() -> bool:
    """Serve every allocation from the heap and never give freed heap back to the kernel
    (glibc ``mallopt``: ``M_MMAP_MAX`` 0, ``M_TRIM_THRESHOLD`` INT_MAX).  Returns whether it
    took effect."""
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_MMAP_MAX, 0)) and bool(libc.mallopt(_M_TRIM_THRESHOLD, _INT_MAX))
    except (OSError, AttributeError):
        return False


def prefault(megabytes: int) -> None:
    """Touch ``megabytes`` of fresh memory and free it again: with :func:`retain_freed_memory`
    in effect it stays with the process, ready for the first exposure.

    >>> prefault(1)
    """
    if megabytes > 0:
        block = np.empty(int(megabytes) << 20, np.uint8)
        block[::4096] = 1  # one write per page maps it
        del block


def limit_private_memory(nbytes: int) -> bool:
    """Cap this process's private memory at ``nbytes``: allocations beyond it raise
    ``MemoryError`` (numpy) instead of growing until the host runs out.

    Uses ``RLIMIT_DATA``, which since Linux 4.7 counts private writable mappings (the heap and
    anonymous ``mmap`` -- every numpy array) but not shared or file-backed mappings.
    ``RLIMIT_AS`` would count those too, and a Ray worker maps its object store and
    arena reservations (gigabytes of address space it never touches), so an address-space
    limit low enough to matter breaks the worker.  A stage worker calls this at start with its
    pool's memory budget.  The limit can only be lowered for good (the hard limit is set too).

    Parameters
    ----------
    nbytes : int
        Bytes of private memory allowed; ``<= 0`` leaves the limit alone.

    Returns
    -------
    bool
        Whether a limit is now in effect (False off Linux, or when ``nbytes <= 0``).
    """
    if nbytes <= 0 or not sys.platform.startswith("linux"):
        return False
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = nbytes if hard == resource.RLIM_INFINITY else min(nbytes, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
    return True


def private_memory_limit() -> int | None:
    """This process's ``RLIMIT_DATA`` in bytes, or None when unlimited (or not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_DATA)
    return None if soft == resource.RLIM_INFINITY else int(soft)
