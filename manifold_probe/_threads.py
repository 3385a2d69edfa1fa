"""Tasks side by side on threads, one BLAS/OpenMP thread each (under every layer).

The command line's executor (:class:`manifold_probe.executor.InProcessExecutor`) and
:func:`manifold_probe.profile_layers` both run a profile's tasks this way, so the Python API
and the command line share the cores alike: ``threads`` tasks at once, each with one
BLAS/OpenMP thread and torch's intra-op pool set to one thread, so that a task's numbers are
those of a one-thread run whatever the thread count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["default_threads", "run_side_by_side"]


def default_threads() -> int:
    """Tasks run at once by default: the cores this process may use."""
    import os

    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_side_by_side(fn: Callable[[Any], Any], specs: list, threads: int
                     ) -> Iterator[tuple[Any, Any]]:
    """``(spec, fn(spec))`` as each finishes, ``threads`` at a time, one BLAS thread each.

    The first exception raised by a task propagates; tasks not yet started are dropped and the
    running ones finish first. The caller imports what the tasks import on first use before
    calling (two threads importing a package with circular imports can see it half initialised).
    """
    import sys
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None

    def one(spec):
        # OpenMP's thread count is per thread: set it in each worker thread too
        with threadpool_limits(limits=1):
            return fn(spec)

    with threadpool_limits(limits=1):
        if torch is not None:
            torch.set_num_threads(1)
        pool = ThreadPoolExecutor(threads, thread_name_prefix="manifold-probe-task")
        try:
            pending = {pool.submit(one, spec): spec for spec in specs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    spec = pending.pop(future)
                    yield spec, future.result()
        finally:
            # on an error or an interrupt: drop the tasks not started, finish the running ones
            pool.shutdown(wait=True, cancel_futures=True)
            if torch is not None:
                torch.set_num_threads(before)
