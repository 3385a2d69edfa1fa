"""One interface to run independent tasks: in process, or on a dask.distributed cluster.

A sweep is a set of independent tasks (layer × measure × seed). Each task is a picklable
top-level function applied to a small picklable spec; it writes its own result atomically
(:mod:`manifold_probe._io`: a temporary file in the same directory, then ``os.replace``), so
an interrupted run never leaves a half-written result and a rerun skips finished tasks.

- :class:`InProcessExecutor` — the default: runs the tasks one after another here.
- :class:`DaskExecutor` — submits them to ``dask.distributed``: to a running scheduler
  (``scheduler="tcp://host:8786"``) or to a ``LocalCluster`` of worker processes started for
  the run (``workers=N``). dask is imported only here, only when used. No scheduler or RPC of
  our own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = [
    "DaskExecutor",
    "Executor",
    "InProcessExecutor",
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
    """Run the tasks here, one after another (the default)."""

    name = "in-process"

    def map_unordered(self, fn, specs):
        for spec in specs:
            yield spec, fn(spec)


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
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise RuntimeError(
                "dask.distributed is not installed; pip install 'manifold-probe[distributed]'"
            ) from exc
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


def make_executor(workers: int | None = None, scheduler: str | None = None) -> Executor:
    """``InProcessExecutor()`` unless ``workers`` or ``scheduler`` asks for dask."""
    if workers is not None and scheduler is not None:
        raise ValueError("give --workers or --scheduler, not both")
    if scheduler is not None or (workers is not None and workers > 0):
        return DaskExecutor(scheduler=scheduler, workers=workers)
    return InProcessExecutor()
