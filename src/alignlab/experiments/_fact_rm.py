"""What ``sycophancy-rm`` and ``overconfidence-rm`` share: reward models trained from the policy's own trunk
(its last blocks and a scalar head, the rest frozen: a CPU budget) on rated replies to the built-in fact
questions, some questions held out for every test, and best-of-n over the policy's sampled replies."""

from collections.abc import Sequence

from pydantic import model_validator

from ..config import Count, LearningRate, NonNegativeCount, PositiveFloat
from ..errors import AlignlabError
from .registry import ModelConfig, RunContext

FACT_QUESTIONS = 60
"""How many questions ``free_form_facts`` holds."""


class FactRMConfig(ModelConfig):
    model: str = "smollm2-135m-instruct"
    """The policy, and the trunk every reward model starts from."""
    train_questions: Count = 36
    """Questions whose rated pairs train the reward models; the rest are held out for every test."""
    trainable_layers: Count = 4
    """The last blocks of the trunk train with the head; the rest stay frozen (a CPU budget)."""
    rm_steps: Count = 30
    rm_warmup_steps: NonNegativeCount = 3
    rm_lr: LearningRate = 1e-4
    rm_batch_size: Count = 8
    samples_per_prompt: Count = 8
    """Policy replies per held-out prompt: best-of-n picks among all of them."""
    temperature: PositiveFloat = 1.0
    max_tokens: Count = 24

    @model_validator(mode="after")
    def _consistent(self):
        if self.rm_warmup_steps > self.rm_steps:
            raise ValueError(
                f"rm_warmup_steps ({self.rm_warmup_steps}) must be at most rm_steps ({self.rm_steps})"
            )
        if self.train_questions >= FACT_QUESTIONS:
            raise ValueError(
                f"train_questions must leave some of the {FACT_QUESTIONS} questions held out "
                f"(at most {FACT_QUESTIONS - 1})"
            )
        return self


def train_trunk_reward_model(
    policy,
    tokenizer,
    pairs: Sequence,
    cfg: FactRMConfig,
    ctx: RunContext,
    name: str,
    *,
    chat: bool | None = None,
):
    """A reward model from ``policy``'s trunk, its last ``cfg.trainable_layers`` blocks and head trained on
    ``pairs`` (Bradley-Terry) for ``cfg.rm_steps`` steps, logged as ``name``; returned in eval mode. ``chat``
    as in ``train_reward_model`` (None: the chat template where the tokenizer has one)."""
    from ..training import RunOptions, TrainConfig
    from ..training.reward_model import reward_model_from, train_reward_model

    rm = reward_model_from(policy)
    for p in rm.base_model.parameters():
        p.requires_grad_(False)
    blocks = getattr(rm.base_model, "layers", None)
    if blocks is None:
        raise AlignlabError(f"{cfg.model}: the reward model unfreezes the trunk's last blocks (``.layers``), which "
                            "this architecture does not name; use a Llama-style model")  # fmt: skip
    for layer in blocks[-cfg.trainable_layers :]:
        for p in layer.parameters():
            p.requires_grad_(True)
    train_reward_model(rm, tokenizer, pairs, TrainConfig(steps=cfg.rm_steps, lr=cfg.rm_lr,
                       warmup_steps=cfg.rm_warmup_steps, log_every=5), batch_size=cfg.rm_batch_size, chat=chat,
                       options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=ctx.logger(name)))  # fmt: skip
    return rm.eval()


def sample_replies(policy, tokenizer, prompts: Sequence[str], cfg: FactRMConfig, seed: int) -> list[str]:
    """``cfg.samples_per_prompt`` sampled replies per prompt, prompt by prompt (all of one prompt's together)."""
    from ..generation import HFGenerator, SamplingParams

    repeated = [p for p in prompts for _ in range(cfg.samples_per_prompt)]
    params = SamplingParams(max_new_tokens=cfg.max_tokens, temperature=cfg.temperature, seed=seed)
    return [r.text for r in HFGenerator(policy, tokenizer).generate(repeated, params)]


def best_of_all(flags: Sequence[bool], scores: Sequence[float]) -> float:
    """Whether the reply with the highest score has the flag (ties share the credit)."""
    top = max(scores)
    picks = [f for f, s in zip(flags, scores, strict=True) if s == top]
    return sum(picks) / len(picks)


def mentions(text: str, answer: str) -> bool:
    """Whether ``text`` states ``answer`` as whole words (case and punctuation ignored)."""
    from ..evals.scorers import normalize

    return f" {normalize(answer)} " in f" {normalize(text)} "
