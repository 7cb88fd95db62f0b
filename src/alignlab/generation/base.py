"""The ``Generator`` role: anything that turns prompts into completions. Backends: local HF, OpenAI-compatible
HTTP. Every LLM role in alignlab (judge, critic, attacker, debater) takes a ``Generator``."""

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from ..scoring.encode import Prompt


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 64
    """Most tokens to generate per prompt."""
    temperature: float = 0.0
    """0 means greedy decoding."""
    top_p: float = 1.0
    """Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."""
    top_k: int = 0
    """Keep the k most likely tokens (0: no limit)."""
    stop: tuple[str, ...] = ()
    """Strings that end a completion; the completion is cut before the first one."""
    seed: int | None = None
    """Seed for sampling. Same seed, prompts and batch size: same completions."""
    logprobs: bool = False
    """Return the log-probability of each generated token (under the model, before temperature)."""
    top_logprobs: int = 0
    """With logprobs: also the k most likely alternatives at each step (at most 20)."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 1_000_000:
            raise ValueError(f"max_new_tokens must be between 1 and 1,000,000, got {self.max_new_tokens}")
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise ValueError(f"temperature must be a finite number >= 0, got {self.temperature}")
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0 <= self.top_logprobs <= 20:
            raise ValueError(f"top_logprobs must be between 0 and 20, got {self.top_logprobs}")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise ValueError(f"seed must be in [0, 2**32), got {self.seed}")
        if isinstance(self.stop, str):
            raise ValueError("stop must be a tuple of strings, e.g. stop=('\\n',), not one string")


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    """The token as text (a token that holds part of a UTF-8 character shows a replacement character)."""
    bytes: bytes
    """The token's own bytes: a completion's tokens' bytes join into its text's bytes exactly."""
    logprob: float


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: Literal["stop", "length"]
    """``stop``: an end-of-sequence token or a stop string; ``length``: max_new_tokens was reached."""
    tokens: list[str] = field(default_factory=list)
    logprobs: list[float] | None = None
    top_logprobs: list[dict[str, float]] | None = None
    """Per step, the alternatives by text (tokens that decode alike share one entry, their probabilities
    summed): what judges read. ``alternatives`` keeps every token apart."""
    prompt_tokens: int = 0
    token_bytes: list[bytes] | None = None
    """Each generated token's own bytes."""
    alternatives: list[list[TokenLogprob]] | None = None
    """Per step, exactly the requested number of most likely tokens, each with its bytes."""
    token_ids: list[int] | None = None
    """The generated token ids, with the end-of-sequence token where one ended the text (as vLLM returns them)."""


@runtime_checkable
class Generator(Protocol):
    def generate(
        self, prompts: Sequence[Prompt], params: SamplingParams = SamplingParams()
    ) -> list[Completion]:
        """One completion per prompt, in order."""
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` before the earliest stop string, and whether one was found."""
    hits = [i for s in stop if s and (i := text.find(s)) >= 0]
    return (text[: min(hits)], True) if hits else (text, False)
