"""What a solver works on: one sample's conversation so far and what the model said, plus the model roles."""

from dataclasses import dataclass, field
from typing import Any

from ..generation.base import Completion, Generator
from ..scoring.encode import Message, Prompt
from .samples import Sample


@dataclass
class TaskState:
    """One sample in one epoch, as the solvers leave it. ``messages`` is the conversation so far;
    ``output`` the target model's last completion; ``answer`` what a solver extracted (e.g. a choice letter)."""

    sample: Sample
    epoch: int
    messages: list[Message]
    output: Completion | None = None
    answer: str | None = None
    choice_logprobs: dict[str, float] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, sample: Sample, epoch: int) -> "TaskState":
        text = sample.input
        messages = [{"role": "user", "content": text}] if isinstance(text, str) else [dict(m) for m in text]
        return cls(sample, epoch, messages)

    @property
    def prompt(self) -> Prompt:
        """The conversation as a generator prompt: plain text when it is a single user turn (so models
        without a chat template can answer it), chat messages otherwise."""
        if len(self.messages) == 1 and self.messages[0]["role"] == "user":
            return self.messages[0]["content"]
        return [dict(m) for m in self.messages]

    @property
    def completion(self) -> str:
        return self.output.text if self.output is not None else ""

    @property
    def user_prompt(self) -> str:
        """The last user turn's text."""
        return next(m["content"] for m in reversed(self.messages) if m["role"] == "user")

    def set_user_prompt(self, text: str) -> None:
        for message in reversed(self.messages):
            if message["role"] == "user":
                message["content"] = text
                return


@dataclass(frozen=True)
class Roles:
    """The models an eval uses, by role as in Inspect's ``model_roles``: the ``target`` under evaluation, a
    ``grader`` for model-graded scorers, an ``attacker`` for red teaming. Each is any ``Generator``."""

    target: Generator
    grader: Generator | None = None
    attacker: Generator | None = None

    def require(self, role: str, user: str) -> Generator:
        generator = getattr(self, role)
        if generator is None:
            from ..errors import AlignlabError

            article = "an" if role[0] in "aeiou" else "a"
            raise AlignlabError(f"{user} needs {article} {role} model (--{role} MODEL)")
        return generator
