"""One interface to run independent tasks: in process, or on a dask.distributed cluster.

A sweep is a set of independent tasks (layer × measure × seed). Each task is a picklable
top-level function applied to a small picklable spec; it writes its own result atomically
(:mod:`manifold_probe._io`: a temporary file in the same directory, then ``os.replace``), so
an interrupted run never leaves a half-written result and a rerun skips finished tasks.

- :class:`InProcessExecutor` — the default: runs the tasks here, one after another or on a
  few threads side by side (``threads=``; the CLI uses one per available core).
- :class:`DaskExecutor` — submits them to ``dask.distributed``: to a running scheduler
  (``scheduler="tcp://host:8786"``) or to a ``LocalCluster`` of worker processes started for
  the run (``workers=N``). dask is imported only here, only when used. No scheduler or RPC of
  our own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from manifold_probe._threads import default_threads, run_side_by_side
from manifold_probe._validation import MissingExtraError

__all__ = [
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
    "default_threads",
    "make_executor",
]


# --------------------------------------------------------------------------- executors
class Executor:
    """Run ``fn(spec)`` for every spec and yield ``(spec, result)`` as each finishes.

    Subclasses implement :meth:`map_unordered`; ``close`` releases what ``__init__`` took.
    Exceptions in a task propagate out of the iterator. Use as a context manager.
    """

    name = "executor"

    def map_unordered(
        self, fn: Callable[[Any], Any], specs: Iterable[Any]
    ) -> Iterator[tuple[Any, Any]]:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources (cluster, client)."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Run the tasks here: one after another, or on ``threads`` threads side by side.

    Parameters
    ----------
    threads : int, default=1
        Tasks run at once. With more than one, every task runs with one BLAS/OpenMP thread
        and torch's intra-op pool is set to one thread for the call, so ``threads`` tasks
        share the cores instead of each spreading over all of them; a task's numbers are
        then those of a one-thread run. The tasks share this process's caches (kNN graphs,
        geodesic distances, region labels), which are locked. Much of a task's time is
        spent in compiled code that releases the GIL (BLAS, torch, scipy, ripser); its Python
        parts take turns, so the gain is below ``threads``-fold (measured in
        ``benchmarks/bench_main_job.py``).
    preload : callable, optional
        Called once in this thread before tasks run side by side, to import what they import
        on first use (default: :func:`manifold_probe.analysis.tasks.preload`).
    """

    name = "in-process"

    def __init__(self, threads: int = 1, preload: Callable[[], None] | None = None) -> None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be an integer >= 1; got {threads!r}")
        self.threads = threads
        self.preload = preload

    def map_unordered(self, fn, specs):
        specs = list(specs)
        if self.threads == 1 or len(specs) <= 1:
            for spec in specs:
                yield spec, fn(spec)
            return
        # the modules the tasks import on first use, imported here before the threads start:
        # concurrent first imports of a package with circular imports can fail
        from manifold_probe.analysis.tasks import preload

        (self.preload or preload)()
        yield from _threaded(fn, specs, self.threads)


def _threaded(fn, specs: list, threads: int):
    """``(spec, fn(spec))`` as each finishes, ``threads`` at a time, one BLAS thread each."""
    return run_side_by_side(fn, specs, threads)


class DaskExecutor(Executor):
    """Run the tasks on ``dask.distributed``.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``). The workers must see the same
        output directory (a shared filesystem), since each task writes its result there.
    workers : int, optional
        Start a ``LocalCluster`` with this many worker processes (one thread each) instead.
    """

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self._client = None
        self._cluster = None

    def _connect(self):
        if self._client is not None:
            return self._client
        require_distributed()
        from distributed import Client, LocalCluster

        if self.scheduler:
            self._client = Client(self.scheduler)
        else:
            self._cluster = LocalCluster(
                n_workers=int(self.workers or 2),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                env={"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            )
            self._client = Client(self._cluster)
        return self._client

    def map_unordered(self, fn, specs):
        from distributed import as_completed

        client = self._connect()
        specs = list(specs)
        if not specs:
            return
        futures = {client.submit(fn, spec, pure=False): i for i, spec in enumerate(specs)}
        try:
            for future in as_completed(futures):
                yield specs[futures[future]], future.result()
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def require_distributed() -> None:
    """Raise :class:`~manifold_probe._validation.MissingExtraError` unless ``dask.distributed``
    can be imported (``--workers``/``--scheduler`` need it)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtraError(
            "--workers and --scheduler run tasks on dask.distributed, which is not installed; "
            "pip install 'manifold-probe[distributed]', or run in this process (--threads N)"
        )


def make_executor(workers: int | None = None, scheduler: str | None = None,
                  threads: int = 1) -> Executor:
    """``InProcessExecutor(threads)`` unless ``workers`` or ``scheduler`` asks for dask."""
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if scheduler is not None or (workers is not None and workers > 0):
        require_distributed()  # before any work: the option cannot be honoured without it
        return DaskExecutor(scheduler=scheduler, workers=workers)
    return InProcessExecutor(threads=threads)
