"""The store writer of a capture: batches appended on one background thread, in order."""

from __future__ import annotations

from manifold_probe.store import ActivationStore

__all__ = ["StoreWriter"]


class StoreWriter:
    """Appends batches to a store on one background thread, in order, one waiting at most.

    The next forward pass runs while the last batch is written (the store's encoding and
    file writes release the GIL), so a capture is not the model's time plus the store's; at
    most three batches are held at once (one computed, one waiting, one being written), so
    memory is bounded by the batch, not by the number of tokens. After an append fails, later
    batches are dropped and the error is raised in the capturing thread (at the next batch or
    at :meth:`close`); every batch appended before it is committed, as without the thread.
    """

    def __init__(self, store: ActivationStore):
        import queue
        import threading

        self.store = store
        self.error: BaseException | None = None
        self.queue: queue.Queue = queue.Queue(maxsize=1)
        self.thread = threading.Thread(target=self._run, name="manifold-probe-store", daemon=True)
        self.thread.start()
        self.closed = False

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            if self.error is None:
                try:
                    self.store.append(**item)
                except BaseException as exc:  # re-raised in the capturing thread
                    self.error = exc

    def put(self, item: dict) -> None:
        if self.error is not None:
            raise self.error
        self.queue.put(item)

    def close(self, *, raise_error: bool = True) -> None:
        """Wait for the queued batches to be appended; raise the first append error."""
        if not self.closed:
            self.closed = True
            self.queue.put(None)
            self.thread.join()
        if raise_error and self.error is not None:
            raise self.error
