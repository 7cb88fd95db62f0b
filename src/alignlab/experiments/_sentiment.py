"""Shared setup of the experiments on the synthetic sentiment task (the stand-in for IMDb): a base model
pre-trained on the task's language, preference pairs labelled by the gold reward, and the evaluation of a
policy by gold reward and KL to the base model."""

from dataclasses import dataclass

import torch

from ..data.formats import PreferenceExample
from ..data.tasks import SentimentTask, label_pairs
from ..generation import HFGenerator, SamplingParams
from ..models import ToyModelConfig, build_toy_model, word_tokenizer
from ..scoring import score_completions
from ..stats import Estimate, mean_estimate
from ..training import RunOptions, TrainConfig
from ..training.pretrain import pretrain
from ._sentiment_config import SentimentConfig


@dataclass
class SentimentSetup:
    task: SentimentTask
    tokenizer: object
    base: torch.nn.Module
    eval_prompts: list[str]
    completion_length: int
    config: SentimentConfig


def make_setup(cfg: SentimentConfig, *, seed: int, device, repetition_penalty: float = 0.0) -> SentimentSetup:
    task = SentimentTask(seed=seed, repetition_penalty=repetition_penalty)
    tokenizer = word_tokenizer(task.words)
    base = build_toy_model(
        ToyModelConfig(d_model=cfg.d_model, n_layers=cfg.n_layers, d_mlp=4 * cfg.d_model, max_seq_len=64),
        tokenizer,
        seed=seed,
    ).to(device)
    texts = task.texts(
        cfg.pretrain_steps * cfg.pretrain_batch_size,
        task.prompt_length + cfg.completion_length,
        seed=seed + 1,
    )
    pretrain(
        base, tokenizer, texts,
        TrainConfig(steps=cfg.pretrain_steps, lr=cfg.pretrain_lr, warmup_steps=cfg.pretrain_warmup_steps,
                    log_every=cfg.pretrain_steps),
        batch_size=cfg.pretrain_batch_size, options=RunOptions(seed=seed, device=device),
    )  # fmt: skip
    return SentimentSetup(
        task, tokenizer, base, task.prompts(cfg.n_eval_prompts, seed=seed + 2), cfg.completion_length, cfg
    )


def sample(setup: SentimentSetup, model: torch.nn.Module, prompts: list[str], *, seed: int) -> list[str]:
    generator = HFGenerator(model, setup.tokenizer, chat=False, batch_size=256, skip_special_tokens=False)
    params = SamplingParams(max_new_tokens=setup.completion_length, temperature=1.0, seed=seed)
    return [c.text for c in generator.generate(prompts, params)]


def gold_pairs(
    setup: SentimentSetup,
    n_pairs: int,
    *,
    flip_rate: float = 0.0,
    bt_temperature: float = 0.1,
    drop_ties: bool = False,
    seed: int,
) -> tuple[list[PreferenceExample], float]:
    """Two samples from the base model per prompt, labelled by the gold reward (Bradley-Terry noise at
    ``bt_temperature``; 0 labels without noise)."""
    prompts = setup.task.prompts(n_pairs, seed=seed)
    a, b = sample(setup, setup.base, prompts, seed=seed), sample(setup, setup.base, prompts, seed=seed + 1)
    gold = setup.task.gold_reward
    return label_pairs(
        prompts, a, b, [gold(x) for x in a], [gold(x) for x in b],
        temperature=bt_temperature, flip_rate=flip_rate, seed=seed, drop_ties=drop_ties,
    )  # fmt: skip


@dataclass(frozen=True)
class PolicyEvaluation:
    """A policy's samples on the evaluation prompts, scored."""

    gold: list[float]
    """Gold reward of the sample for each evaluation prompt."""
    log_ratios: list[float]
    """log pi(y) − log pi_base(y) per non-empty sample: their mean estimates KL(policy ‖ base) per sequence."""

    @property
    def gold_estimate(self) -> Estimate:
        return mean_estimate(self.gold)

    @property
    def kl(self) -> float:
        return sum(self.log_ratios) / max(len(self.log_ratios), 1)

    @property
    def kl_estimate(self) -> Estimate:
        return mean_estimate(self.log_ratios)


def evaluate(
    setup: SentimentSetup, policy: torch.nn.Module, *, seed: int, completions: list[str] | None = None
) -> PolicyEvaluation:
    """Gold reward of samples on the evaluation prompts, and KL(policy ‖ base) per sequence from the log-ratios
    of the policy's own samples (pass them if already drawn)."""
    completions = (
        completions if completions is not None else sample(setup, policy, setup.eval_prompts, seed=seed)
    )
    gold = [setup.task.gold_reward(c) for c in completions]
    kept = [(p, c) for p, c in zip(setup.eval_prompts, completions, strict=True) if c]
    prompts, texts = [p for p, _ in kept], [c for _, c in kept]
    policy_logps = score_completions(policy, setup.tokenizer, prompts, texts, chat=False, batch_size=128)
    base_logps = score_completions(setup.base, setup.tokenizer, prompts, texts, chat=False, batch_size=128)
    return PolicyEvaluation(gold, [p.total - b.total for p, b in zip(policy_logps, base_logps, strict=True)])


def train_proxy_reward_model(
    setup: SentimentSetup, pairs: list[PreferenceExample], *, steps: int, seed: int, device
) -> tuple[torch.nn.Module, list[dict[str, float]]]:
    """A reward model on the base model's trunk, trained with the Bradley-Terry loss on ``pairs``."""
    from ..training.reward_model import reward_model_from, train_reward_model

    reward_model = reward_model_from(setup.base)
    history = train_reward_model(
        reward_model, setup.tokenizer, pairs,
        TrainConfig(steps=steps, lr=setup.config.rm_lr, log_every=max(steps // 4, 1)),
        batch_size=setup.config.rm_batch_size, chat=False, options=RunOptions(seed=seed, device=device),
    )  # fmt: skip
    return reward_model, history


def pairwise_accuracy(
    setup: SentimentSetup, reward_model: torch.nn.Module, pairs: list[PreferenceExample]
) -> float:
    """Share of ``pairs`` whose chosen completion the reward model scores above the rejected one."""
    from ..training.reward_model import score_with_reward_model

    scores = score_with_reward_model(
        reward_model,
        setup.tokenizer,
        [p.prompt for p in pairs] * 2,
        [p.chosen for p in pairs] + [p.rejected for p in pairs],
        chat=False,
    )
    n = len(pairs)
    return sum(c > r for c, r in zip(scores[:n], scores[n:], strict=True)) / n
