"""One point of a scaling sweep: a toy Llama of a given width and depth trained from scratch for a given number of
tokens on a ``TopicMarkovLanguage``, evaluated on held-out sequences along the way.

A point is a plain dict (so the sweep can hash it, cache it and hand it to another process); ``language_point``
builds one. Parameters are counted with and without the embedding (Kaplan et al. count N without it; Hoffmann et al.
with it); compute is C = 6 N D with N the non-embedding count.
"""

import math
import time
from typing import Any

POINT_VERSION = 1
"""Part of every point: bump it when training changes, so cached results of the old code are not reused."""

EVAL_SEED = 1_000_003
"""Seed of the held-out sequences, the same for every point so that their losses are paired."""


def language_point(
    *,
    d_model: int,
    n_layers: int,
    tokens: int,
    seed: int,
    language: dict[str, Any],
    seq_len: int = 64,
    batch_size: int = 32,
    lr: float = 1e-2,
    warmup_fraction: float = 0.05,
    evals: int = 8,
    eval_sequences: int = 256,
    eval_seed: int = EVAL_SEED,
) -> dict[str, Any]:
    """A sweep point; ``language`` holds the ``TopicMarkovLanguage`` fields."""
    return dict(locals(), version=POINT_VERSION)


def toy_config(d_model: int, n_layers: int, seq_len: int):
    """The sweep's model family: 2 heads (any width divisible by 4 works), MLP 4x the width."""
    from ..models import ToyModelConfig

    return ToyModelConfig(
        d_model=d_model, n_layers=n_layers, n_heads=2, d_mlp=4 * d_model, max_seq_len=seq_len
    )


def non_embedding_parameters(d_model: int, n_layers: int, language: dict[str, Any], seq_len: int = 64) -> int:
    """N of a point's model, by building it (cheap at sweep sizes): the count compute budgets are split by."""
    from ..data.synthetic import TopicMarkovLanguage
    from ..models import build_toy_model, word_tokenizer

    tokenizer = word_tokenizer(TopicMarkovLanguage(**language).words)
    return parameter_counts(build_toy_model(toy_config(d_model, n_layers, seq_len), tokenizer))[1]


def parameter_counts(model) -> tuple[int, int]:
    """(all parameters, parameters outside the token embedding), each tensor counted once (tied heads share it)."""
    embedding = model.get_input_embeddings().weight
    unique = {id(p): p for p in model.parameters()}
    total = sum(p.numel() for p in unique.values())
    return total, total - embedding.numel()


def train_language_point(point: dict[str, Any]) -> dict[str, Any]:
    """Train and evaluate one point; returns the parameter counts, tokens, final held-out loss with each held-out
    sequence's loss, the curve [(tokens seen, held-out loss)] at ``evals`` evenly spaced steps, and seconds."""
    import torch

    from ..data.synthetic import TopicMarkovLanguage
    from ..models import build_toy_model, word_tokenizer
    from ..scoring.logprobs import token_logprobs
    from ..training import RunOptions, TrainConfig, causal_lm_step, train

    start = time.perf_counter()
    language = TopicMarkovLanguage(**point["language"])
    tokenizer = word_tokenizer(language.words)
    offset = tokenizer.convert_tokens_to_ids(language.words[0])
    width, seq_len, batch = point["d_model"], point["seq_len"], point["batch_size"]
    torch.manual_seed(point["seed"])
    model = build_toy_model(toy_config(width, point["n_layers"], seq_len), tokenizer, seed=point["seed"])
    total, non_embedding = parameter_counts(model)
    steps = max(1, round(point["tokens"] / (seq_len * batch)))
    held_out = torch.from_numpy(
        language.sample(point["eval_sequences"], seq_len, seed=point["eval_seed"]) + offset
    )

    @torch.no_grad()
    def sequence_losses() -> list[float]:
        model.eval()
        losses = torch.cat(
            [-token_logprobs(model(input_ids=c).logits, c).mean(-1) for c in held_out.split(128)]
        )
        model.train()
        return losses.tolist()

    curve = []

    def on_log(step: int, record: dict[str, float]) -> None:
        curve.append((step * seq_len * batch, float(sum(sequence_losses()) / len(held_out))))

    first = point["seed"] * 1_000_003 + 7
    batches = (
        {"input_ids": torch.from_numpy(language.sample(batch, seq_len, seed=s) + offset)}
        for s in range(first, first + steps)
    )
    train(
        model,
        causal_lm_step,
        batches,
        TrainConfig(steps=steps, lr=point["lr"], warmup_steps=math.floor(point["warmup_fraction"] * steps),
                    log_every=max(1, steps // point["evals"])),
        options=RunOptions(seed=point["seed"], on_log=on_log),
    )  # fmt: skip
    losses = sequence_losses()
    return dict(
        parameters=total,
        non_embedding_parameters=non_embedding,
        tokens=steps * seq_len * batch,
        loss=sum(losses) / len(losses),
        sequence_losses=losses,
        curve=curve,
        seconds=time.perf_counter() - start,
    )
