"""Server-sent events for ``alignlab serve``'s ``stream: true``: tokens go out as they are generated, in the batch
they share with other requests.

Text is sent in deltas whose concatenation is exactly the text of the same request without streaming: a
delta never ends inside a multi-byte character, and where stop strings are given the last ``len(stop) - 1``
characters are held back until it is clear they do not begin one.
"""

import json
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from ..errors import AlignlabError
from .base import Completion, cut_at_stop
from .hf import HFGenerator


class TextDeltas:
    """One completion's text, delta by delta, from its tokens as they come."""

    def __init__(self, generator: HFGenerator, stop: tuple[str, ...]) -> None:
        self.generator, self.stop = generator, stop
        self.holdback = max((len(s) for s in stop), default=1) - 1
        self.ids: list[int] = []
        self.sent = ""
        self.done = False

    def push(self, token_id: int) -> str:
        """The new text that is safe to send after this token ('' while it is not)."""
        if self.done:
            return ""  # padding after the end, or tokens after a stop string
        if token_id in self.generator.eos_ids:
            self.done = True
            return ""
        self.ids.append(token_id)
        text = self.generator.tokenizer.decode(
            self.ids, skip_special_tokens=self.generator.skip_special_tokens
        )
        text, stopped = cut_at_stop(text, self.stop)
        if stopped:
            self.done = True
        elif self.holdback:
            text = text[: max(len(text) - self.holdback, 0)]
        text = text.rstrip("\ufffd")  # the first bytes of a character whose last bytes are still to come
        if not text.startswith(self.sent):
            return ""  # the decoding of earlier tokens changed; the rest goes out with the final text
        delta, self.sent = text[len(self.sent) :], text
        return delta

    def finish(self, final_text: str) -> str:
        """What remains to send of the completion's final text."""
        return final_text[len(self.sent) :] if final_text.startswith(self.sent) else ""


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


def stream_events(
    generator: HFGenerator,
    stop: tuple[str, ...],
    submit: Callable[[Callable[[int, int], None]], Future],
    n_choices: int,
    chunk: Callable[[int, str | None, str | None], dict[str, Any]],
    opening: list[dict[str, Any]] = (),
    usage: Callable[[list[Completion]], dict[str, Any]] | None = None,
) -> Iterator[str]:
    """Submit the request now (so that a request refused outright raises here, before any event is sent), and
    return the events: ``opening`` chunks, each choice's text deltas as its tokens arrive (``chunk(choice, delta,
    None)``), each choice's last delta with its finish reason, the ``usage`` chunk if asked for, then
    ``[DONE]``. An error during generation is sent as an ``error`` event."""
    events: queue.Queue[tuple[int, int] | None] = queue.Queue()
    future = submit(lambda choice, token: events.put((choice, token)))
    future.add_done_callback(lambda _: events.put(None))
    decoders = [TextDeltas(generator, stop) for _ in range(n_choices)]

    def run() -> Iterator[str]:
        yield from (sse(c) for c in opening)
        while (event := events.get()) is not None:
            choice, token = event
            if delta := decoders[choice].push(token):
                yield sse(chunk(choice, delta, None))
        try:
            completions = future.result()
        except (AlignlabError, ValueError, RuntimeError) as e:
            yield sse({"error": {"message": str(e), "type": "server_error", "param": None, "code": None}})
            return
        for choice, (decoder, completion) in enumerate(zip(decoders, completions, strict=True)):
            yield sse(chunk(choice, decoder.finish(completion.text), completion.finish_reason))
        if usage is not None:
            yield sse(usage(completions))
        yield sse("[DONE]")

    return run()
