"""Dynamic batching: requests that arrive from many threads within a short window are generated as one batch.

On a CPU, as on a GPU, one decoding step costs about the same for 1 prompt as for 16 (each step reads all the
weights), so a server that answers concurrent clients one at a time leaves most of its throughput unused. The
first request to arrive opens a window of ``window_s`` seconds; every request with the same sampling parameters
that arrives in it (up to ``max_batch`` prompts) joins its batch; one worker thread runs the batches in turn.

Greedy results are the same as alone. Seeded sampling draws from one generator for the whole batch, so a seeded
request is reproducible for the same batch, not across batches.
"""

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

from ..scoring.encode import check_length, model_max_length
from .base import Completion, SamplingParams
from .hf import HFGenerator


@dataclass
class _Request:
    ids: list[list[int]]
    params: SamplingParams
    on_token: Callable[[int, int], None] | None = None
    future: Future = field(default_factory=Future)


class BatchingGenerator:
    def __init__(
        self,
        generator: HFGenerator,
        *,
        window_s: float = 0.01,
        max_batch: int = 32,
        lock: "threading.Lock | None" = None,
    ) -> None:
        """``lock`` is held while a batch runs: share it with other users of the same model."""
        self.generator, self.window_s, self.max_batch = generator, window_s, max_batch
        self.lock = lock or threading.Lock()
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._held: list[_Request] = []  # arrived in a window but with other parameters: next batch
        self.batches: list[int] = []
        """Prompts per batch run so far (for tests and benchmarks)."""
        threading.Thread(target=self._work, daemon=True, name="alignlab-batching").start()

    def generate_ids(self, ids: Sequence[list[int]], params: SamplingParams) -> list[Completion]:
        """Blocks until this request's batch has run."""
        return self.submit(ids, params).result()

    def submit(
        self,
        ids: Sequence[list[int]],
        params: SamplingParams,
        on_token: Callable[[int, int], None] | None = None,
    ) -> Future:
        """Queue a request; the future holds its completions. ``on_token(i, token_id)`` sees each token of prompt
        ``i`` as it is generated (for streaming). A request too long for the model is refused here, before it can
        fail a batch it shares with others."""
        ids = [list(i) for i in ids]
        check_length([len(i) + params.max_new_tokens for i in ids], model_max_length(self.generator.model),
                     "prompt + max_new_tokens")  # fmt: skip
        request = _Request(ids, params, on_token)
        self._queue.put(request)
        return request.future

    def _arrival(self, timeout: float | None) -> _Request | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def _work(self) -> None:
        while True:
            first = self._held.pop(0) if self._held else self._arrival(None)
            batch, size = [first], len(first.ids)
            for request in [
                r for r in self._held if r.params == first.params
            ]:  # held back earlier, same kind
                if size + len(request.ids) <= self.max_batch:
                    self._held.remove(request)
                    batch.append(request)
                    size += len(request.ids)
            deadline = time.monotonic() + self.window_s
            while size < self.max_batch and (left := deadline - time.monotonic()) > 0:
                request = self._arrival(left)
                if request is None:
                    break
                if request.params == first.params and size + len(request.ids) <= self.max_batch:
                    batch.append(request)
                    size += len(request.ids)
                else:
                    self._held.append(request)
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        self.batches.append(sum(len(r.ids) for r in batch))
        owners = [(request, i) for request in batch for i in range(len(request.ids))]

        def dispatch(row: int, token: int) -> None:
            request, i = owners[row]
            if request.on_token is not None:
                request.on_token(i, token)

        streaming = any(r.on_token is not None for r in batch)
        try:
            with self.lock:
                completions = self.generator.generate_ids(
                    [ids for r in batch for ids in r.ids], batch[0].params, dispatch if streaming else None
                )
        except BaseException as error:  # one bad request fails its batch; each caller sees the error
            for request in batch:
                request.future.set_exception(error)
            return
        start = 0
        for request in batch:
            request.future.set_result(completions[start : start + len(request.ids)])
            start += len(request.ids)
