"""Group commit: the writes that arrive together in one process go to the database together.

A durable write costs PostgreSQL a transaction and a WAL flush, and the app a round trip or two;
both cost the same for one row as for a dozen. Under a threaded server (gunicorn gthread), the
first caller to arrive becomes the leader and writes its own item at once; callers that arrive
while it is busy queue up, and when it is done the first of them leads the next write with the
whole queue. Nobody waits for a timer: with no concurrency every write is a batch of one, as
before, and under load the batches grow by themselves. A caller gets its own result (or the
batch's exception) only after the batch's transaction has committed. A `write` that can tell
which item failed returns that exception in the item's place: only its caller raises it.
"""
import threading
from collections.abc import Callable, Sequence
from typing import Any


class _Job:
    __slots__ = ("item", "ready", "batch", "value", "error")

    def __init__(self, item):
        self.item = item
        self.ready = threading.Event()
        self.batch = None  # set when this job is promoted to lead the next batch
        self.value = None
        self.error = None

    def result(self) -> Any:
        """The value written for this job's item, or the batch's exception raised again."""
        if self.error is not None:
            raise self.error
        return self.value


class GroupCommit:
    """`submit(item)` returns `write(items)[i]` for its own item, written with whatever items
    other threads submitted meanwhile (at most `max_batch` at a time, in arrival order)."""

    def __init__(self, write: Callable[[Sequence[Any]], Sequence[Any]], max_batch: int = 64,
                 on_batch: Callable[[int], None] | None = None) -> None:
        self._write = write
        self._on_batch = on_batch  # called with each batch's size (app/metrics.py)
        self._max = max_batch
        self._lock = threading.Lock()
        self._queue = []
        self._busy = False
        self.batches = 0  # counters for tests and the benchmark
        self.items = 0

    def submit(self, item: Any) -> Any:
        job = _Job(item)
        with self._lock:
            lead = not self._busy
            if lead:
                self._busy = True
            else:
                self._queue.append(job)
        if lead:
            batch = [job]
        else:
            job.ready.wait()
            if job.batch is None:  # a leader wrote it
                return job.result()
            batch = job.batch
        try:
            values = self._write([j.item for j in batch])
            for j, value in zip(batch, values, strict=True):
                if isinstance(value, Exception):  # this item's own failure: only its caller sees it
                    j.error = value
                else:
                    j.value = value
        except BaseException as e:  # every caller of the batch sees it; none is left waiting
            for j in batch:
                j.error = e
        finally:
            self.batches += 1
            self.items += len(batch)
            self._hand_off()
            for j in batch:
                if j is not job:
                    j.ready.set()
        if self._on_batch is not None:  # once every caller is on its way
            self._on_batch(len(batch))
        return job.result()

    def _hand_off(self):
        with self._lock:
            if not self._queue:
                self._busy = False
                return
            batch, self._queue = self._queue[: self._max], self._queue[self._max:]
        batch[0].batch = batch
        batch[0].ready.set()
