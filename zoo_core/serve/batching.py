"""Server-side batching: concurrent requests for one model answered by one call of the model.

A request's examples wait in the model's queue; the model's worker takes the
first waiting request, then more, until the batch holds ``max_batch``
examples or ``max_wait`` seconds have passed since it took the first, and
runs them through the model at once in its own thread (one at a time: a
TFLite interpreter is not thread-safe). ``max_batch=1`` turns batching off. A
request with more examples than ``max_batch`` is run alone.

Importing this module imports neither numpy nor TensorFlow.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    import numpy as np

class Batcher:
    """Batches the examples of concurrent requests for one model (see the module's docstring).

    ``predict`` takes ``(n, *input_shape)`` and answers ``(n, classes)``;
    ``on_batch`` (if given) is told each batch's number of examples.
    """

    def __init__(self, name: str, predict: Callable[["np.ndarray"], "np.ndarray"], max_batch: int, max_wait: float,
                 on_batch: Optional[Callable[[int], None]] = None) -> None:
        if max_batch < 1 or max_wait < 0:
            raise ValueError(f"max_batch must be 1 or more and max_wait 0 or more (got {max_batch}, {max_wait})")
        self.name, self.max_batch, self.max_wait = name, max_batch, max_wait
        self._predict, self._on_batch = predict, on_batch
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"zoo-serve-{name}")
        self._queue: Optional[asyncio.Queue] = None
        self._held: Optional[tuple[Any, asyncio.Future]] = None
        self._worker: Optional[asyncio.Task] = None

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._queue = asyncio.Queue()
        self._worker = asyncio.get_running_loop().create_task(self._work(), name=f"zoo-serve-{self.name}")

    async def stop(self) -> None:
        """Stop the worker (after the server has answered its requests) and its thread."""
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        self._executor.shutdown(wait=True)

    async def predict(self, examples: "np.ndarray") -> "np.ndarray":
        """The model's answers for ``examples``, computed in a batch with other waiting requests."""
        if self._queue is None:
            raise RuntimeError("Batcher.start() was not called")
        answer: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((examples, answer))
        return await answer

    async def _work(self) -> None:
        while True:
            batch = await self._next_batch()
            await self._run(batch)

    async def _next_batch(self) -> list[tuple[Any, asyncio.Future]]:
        """The requests of the next batch: the first waiting one, then more until full or ``max_wait`` is over."""
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        first = self._held or await self._queue.get()
        self._held = None
        batch, rows = [first], len(first[0])
        deadline = loop.time() + self.max_wait
        while rows < self.max_batch:
            try:
                if self._queue.empty():
                    left = deadline - loop.time()
                    if left <= 0:
                        break
                    item = await asyncio.wait_for(self._queue.get(), left)
                else:
                    item = self._queue.get_nowait()
            except asyncio.TimeoutError:
                break
            if rows + len(item[0]) > self.max_batch:
                self._held = item  # first of the next batch
                break
            batch.append(item)
            rows += len(item[0])
        return batch

    async def _run(self, batch: list[tuple[Any, asyncio.Future]]) -> None:
        import numpy as np

        loop = asyncio.get_running_loop()
        waiting = [(examples, answer) for examples, answer in batch if not answer.done()]  # a client gone: skip
        if not waiting:
            return
        examples = waiting[0][0] if len(waiting) == 1 else np.concatenate([x for x, _ in waiting])
        if self._on_batch is not None:
            self._on_batch(len(examples))
        try:
            answers = await loop.run_in_executor(self._executor, self._predict, examples)
        except Exception as error:  # noqa: BLE001 - handed to the request(s) it belongs to
            if len(waiting) == 1:
                _settle(waiting[0][1], error=error)
                return
            for one in waiting:  # find whose examples the model failed on: each alone
                await self._run([one])
            return
        start = 0
        for x, answer in waiting:
            _settle(answer, result=answers[start:start + len(x)])
            start += len(x)


def _settle(answer: asyncio.Future, result: Any = None, error: Optional[BaseException] = None) -> None:
    if answer.done():
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)
