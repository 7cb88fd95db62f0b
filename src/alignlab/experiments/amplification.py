"""amplification: a toy model learns permutation powering from an overseer who only knows the permutation itself,
by iterated amplification, beside the same model trained on ground-truth answers (Christiano et al. 2018)."""

import random
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel

from ..config import Count, LearningRate
from ..reporting import Claim, Section, Table, Text
from ..reporting.plots import pyplot
from ..stats import difference, proportion_estimate
from .registry import ExperimentConfig, Measurement, RunContext, experiment
from .verdict import Decision, Record, graded, not_applicable


class AmplificationConfig(ExperimentConfig):
    elements: Count = 16
    """Size of the permutation sigma (the same for the whole run: the world the overseer knows)."""
    max_power: Count = 32
    """Questions ask sigma^k(x) for k = 1 .. max_power."""
    d_model: Count = 64
    n_layers: Count = 2
    rounds: Count = 12
    """Amplify-then-distill rounds; supervised learning gets the same rounds with ground-truth labels."""
    steps_per_round: Count = 100
    batch_size: Count = 64
    lr: LearningRate = 3e-3


CLAIM = Claim(
    paper="Christiano, Shlegeris & Amodei 2018, Supervising strong learners by amplifying weak experts",
    finding="iterated amplification learns tasks (permutation powering among them) that the overseer cannot solve "
    "alone, reaching performance close to supervised learning on ground-truth labels while never seeing a "
    "ground-truth answer beyond what the overseer can work out from small subquestions",
    expectation="a toy Llama answers sigma^k(x) (16 elements, k up to 32); the overseer knows sigma only and answers "
    "sigma^k(x) as sigma^(k-a)(sigma^a(x)) with a = k // 2, asking the model both halves; 12 rounds of amplify-then-"
    "distill vs the same training on ground-truth labels, questions drawn uniformly over difficulty levels log2 k. (a) Amplification's final accuracy is not more than 0.05 "
    "below supervised learning's and (b) above a control distilled from the overseer alone (who guesses where it "
    "cannot decompose) on k > 1, each by more than two standard errors (over questions and seeds). Reproduced if "
    "both, partial if one; not applicable if supervised learning itself stays below 0.9 (nothing to match)",
)

MARGIN = 0.05


class MethodRun(BaseModel):
    curve: list[float]
    """Accuracy over every question after each round."""
    correct: list[int]
    """Per question (ordered as ``AmplificationRecord.powers``), 1 where the final model is right."""


class AmplificationRecord(Record):
    powers: list[int]
    """k of each question."""
    amplified: MethodRun
    supervised: MethodRun
    overseer_alone: MethodRun
    model_calls_per_round: int
    ground_truth_labels: dict[str, int]
    """Distinct questions whose true answer each method's training saw."""


def decide(records: Sequence[AmplificationRecord]) -> Decision:
    def share(method: str, hard_only: bool = False):
        hits = [c for r in records for c, k in zip(getattr(r, method).correct, r.powers, strict=True) if k > 1 or not hard_only]  # fmt: skip
        return proportion_estimate(sum(hits), len(hits))

    supervised, amplified = share("supervised"), share("amplified")
    figures = {"accuracy_amplified": round(amplified.value, 3), "accuracy_supervised": round(supervised.value, 3),
               "accuracy_overseer_alone_hard": round(share("overseer_alone", True).value, 3)}  # fmt: skip
    if supervised.value < 0.9:
        return not_applicable(
            f"supervised learning reaches only {supervised.value:.1%}: no performance to match", figures
        )
    matched = difference(amplified, supervised)
    beyond = difference(share("amplified", True), share("overseer_alone", True))
    a, b = matched.clearly_above(-MARGIN), beyond.clearly_above(0)
    reasons = (
        f"(a) {'holds' if a else 'not shown'}: amplification {amplified.value:.1%} vs supervised {supervised.value:.1%}, "
        f"difference {matched} (must stay above -{MARGIN} by two standard errors)",
        f"(b) {'holds' if b else 'not shown'}: on k > 1, amplification minus the overseer-alone control {beyond}",
    )
    return graded(a and b, a or b, reasons, figures)


def overseer_for(sigma: Sequence[int]):
    """The overseer: knows sigma, so answers k = 1 itself; for k > 1 asks the model sigma^a(x) with a = k // 2, then
    sigma^(k - a) of that answer, and returns the second answer."""

    def overseer(questions: Sequence[tuple[int, int]], ask) -> list[int]:
        labels = [sigma[x] if k == 1 else -1 for x, k in questions]
        big = [i for i, (_, k) in enumerate(questions) if k > 1]
        halves = ask([(questions[i][0], questions[i][1] // 2) for i in big])
        rest = ask([(y, questions[i][1] - questions[i][1] // 2) for i, y in zip(big, halves, strict=True)])
        for i, z in zip(big, rest, strict=True):
            labels[i] = z
        return labels

    return overseer


def level_weights(powers: Sequence[int]) -> list[float]:
    """Training questions are drawn uniformly over difficulty levels floor(log2 k), then uniformly within a level.

    Drawn uniformly over questions instead, the 16 base cases the overseer answers itself are 3% of the data: in
    the first run the amplified labels collapsed onto the untrained model's constant guess and accuracy stalled at
    10% (supervised: 100%). Every method trains on this same distribution."""
    levels = [k.bit_length() - 1 for k in powers]
    n_levels = len(set(levels))
    return [1 / (n_levels * levels.count(level)) for level in levels]


def question_word(x: int, k: int) -> str:
    """A question is one token: the model's knowledge of sigma's powers is a learned table. (Asked as two tokens,
    'e<x> p<k> =', a 2-layer toy stayed at 19% even on ground-truth labels after 5,000 steps: it learned x's cycle
    but not where k lands in it.)"""
    return f"q{x}_{k}"


def power(sigma: Sequence[int], x: int, k: int) -> int:
    for _ in range(k):
        x = sigma[x]
    return x


@experiment(
    "amplification",
    claim=CLAIM,
    config=AmplificationConfig,
    decide=decide,
    paper_figures={
        "accuracy_amplified": "close to supervised on all five tasks",
        "ground_truth_labels_amplified": "none beyond the overseer's own answers",
    },  # fmt: skip
    presets={
        "cpu": {},
        "gpu": dict(
            elements=64,
            max_power=64,
            d_model=256,
            n_layers=4,
            rounds=20,
            steps_per_round=300,
            batch_size=256,
            lr=1e-3,
        ),
    },  # fmt: skip
)
def amplification(cfg: AmplificationConfig, ctx: RunContext) -> Measurement:
    """Three models from the same initialisation, trained for the same rounds on three kinds of labels."""
    import torch

    from ..data.formats import CompletionExample
    from ..models import ToyModelConfig, build_toy_model, word_tokenizer
    from ..oversight.amplification import iterated_amplification
    from ..training import RunOptions, TrainConfig, train_sft

    rng = random.Random(ctx.seed)
    sigma = list(range(cfg.elements))
    rng.shuffle(sigma)
    questions = [(x, k) for k in range(1, cfg.max_power + 1) for x in range(cfg.elements)]
    truth = [power(sigma, x, k) for x, k in questions]
    sampling = level_weights([k for _, k in questions])
    element_words = [f"e{i}" for i in range(cfg.elements)]
    tokenizer = word_tokenizer(element_words + [question_word(x, k) for x, k in questions] + ["="])
    element_ids = torch.tensor(tokenizer.convert_tokens_to_ids(element_words))

    def prompt(x: int, k: int) -> str:
        return f"{question_word(x, k)} ="

    def new_model():
        return build_toy_model(ToyModelConfig(d_model=cfg.d_model, n_layers=cfg.n_layers, d_mlp=4 * cfg.d_model,
                                              max_seq_len=8), tokenizer, seed=ctx.seed).to(ctx.device)  # fmt: skip

    def asker(model):
        @torch.no_grad()
        def ask(batch: Sequence[tuple[int, int]]) -> list[int]:
            if not batch:
                return []
            ids = tokenizer([prompt(x, k) for x, k in batch], return_tensors="pt").input_ids.to(ctx.device)
            model.eval()
            logits = model(input_ids=ids).logits[:, -1, element_ids.to(ctx.device)]
            model.train()
            return logits.argmax(-1).tolist()

        return ask

    def accuracy(ask) -> list[int]:
        return [int(a == t) for a, t in zip(ask(questions), truth, strict=True)]

    def train_method(name: str, labeller) -> tuple[MethodRun, int]:
        """A fresh model (the same initialisation for every method) trained for ``cfg.rounds`` rounds on
        ``labeller``'s answers; returns its accuracy after each round and the model calls of the first round."""
        model, curve, done = new_model(), [], 0
        ask, log = asker(model), ctx.logger(name)

        def distill(batch: Sequence[tuple[int, int]], labels: Sequence[int]) -> None:
            nonlocal done
            draw = random.Random(ctx.seed * 7919 + done)
            picks = draw.choices(range(len(batch)), weights=sampling, k=cfg.steps_per_round * cfg.batch_size)
            examples = [CompletionExample(prompt(*batch[i]), f" e{labels[i]}") for i in picks]
            offset = done * cfg.steps_per_round
            train_sft(model, tokenizer, examples,
                      TrainConfig(steps=cfg.steps_per_round, lr=cfg.lr, schedule="constant",
                                  log_every=max(cfg.steps_per_round // 4, 1)),
                      batch_size=cfg.batch_size, chat=False,
                      options=RunOptions(seed=ctx.seed, device=ctx.device, on_log=lambda step, r: log(offset + step, r)))  # fmt: skip
            done += 1
            curve.append(float(np.mean(accuracy(ask))))
            ctx.log(done * cfg.steps_per_round, **{f"{name}_accuracy": curve[-1]})

        history = iterated_amplification(questions, labeller, ask, distill, rounds=cfg.rounds)
        return MethodRun(curve=curve, correct=accuracy(ask)), history[0].model_calls

    guesses = random.Random(ctx.seed + 1)

    def overseer_alone(batch, ask) -> list[int]:
        return [sigma[x] if k == 1 else guesses.randrange(cfg.elements) for x, k in batch]

    def ground_truth(batch, ask) -> list[int]:
        return [power(sigma, x, k) for x, k in batch]

    methods = {"amplified": overseer_for(sigma), "supervised": ground_truth, "overseer_alone": overseer_alone}
    runs, calls = {}, {}
    for name in ctx.progress(
        methods, "amplified, supervised and overseer-alone training", total=len(methods)
    ):
        runs[name], calls[name] = train_method(name, methods[name])

    record = AmplificationRecord(
        powers=[k for _, k in questions], model_calls_per_round=calls["amplified"],
        ground_truth_labels={"amplified": cfg.elements, "supervised": len(questions), "overseer_alone": cfg.elements},
        **runs,
    )  # fmt: skip
    return Measurement(record, _sections(cfg, record, ctx))


def _sections(cfg: AmplificationConfig, record: AmplificationRecord, ctx: RunContext) -> list[Section]:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    names = {"amplified": "iterated amplification", "supervised": "supervised (ground truth)",
             "overseer_alone": "overseer alone (control)"}  # fmt: skip
    rounds = np.arange(1, cfg.rounds + 1)
    powers = np.array(record.powers)
    for key, label in names.items():
        run = getattr(record, key)
        left.plot(rounds, run.curve, "o-", label=label)
        correct = np.array(run.correct)
        right.plot(range(1, cfg.max_power + 1), [correct[powers == k].mean() for k in range(1, cfg.max_power + 1)],
                   ".-", label=label)  # fmt: skip
    left.set(xlabel="round", ylabel="accuracy over all questions", ylim=(0, 1.02), title="Training")
    right.set(xlabel="k (sigma^k(x))", ylabel="final accuracy", ylim=(0, 1.02), title="By difficulty")
    left.legend(fontsize=8)
    figure = ctx.figure(
        fig, "amplification", "Accuracy by round (left) and by power k after the last round (right)."
    )
    table = Table(
        ["method", "final accuracy", "accuracy on k > 1", "ground-truth answers seen", "first round at >= 90%"],
        [[label, round(float(np.mean(getattr(record, key).correct)), 3),
          round(float(np.array(getattr(record, key).correct)[powers > 1].mean()), 3), record.ground_truth_labels[key],
          next((t + 1 for t, v in enumerate(getattr(record, key).curve) if v >= 0.9), "never")]
         for key, label in names.items()],
    )  # fmt: skip
    setup = Text(
        f"A random permutation sigma of {cfg.elements} elements; questions 'q<x>_<k> =' (one token each) ask sigma^k(x) for every x and "
        f"k = 1..{cfg.max_power} ({len(record.powers)} questions, all of them trained and scored: the task is to know "
        f"the table). Each method trains a {cfg.n_layers}-layer toy Llama (d_model {cfg.d_model}) from the same "
        f"initialisation for {cfg.rounds} rounds of {cfg.steps_per_round} steps (batch {cfg.batch_size}, constant lr "
        f"{cfg.lr}); each round relabels every question: by the amplified overseer (who asks the current model "
        f"{record.model_calls_per_round} subquestions per round), by ground truth, or by the overseer alone (sigma "
        "for k = 1, a uniform guess otherwise); training questions are drawn uniformly over the difficulty levels "
        "floor(log2 k) (see level_weights: drawn uniformly over questions, amplification collapsed in the first run)."
    )
    return [Section("Results", [figure, table]), Section("Setup", [setup])]


EXPERIMENT = amplification
