"""Using a verifier at inference time: best-of-N selection, its baselines, and step-level beam search.

Best-of-N is scored the way Lightman et al. (2023) plot it — for each problem, a pool of m sampled
solutions, and the correctness of the verifier's top pick among n of them averaged over random draws.
That average has a closed form: with the pool sorted by score (rank r = 1 is the highest),

    P(rank r is the top pick of a random n-subset) = C(m − r, n − 1) / C(m, n),

so  E[accuracy] = Σ_r correct_r · C(m − r, n − 1) / C(m, n), with no sampling noise. pass@n (any of the n is
right, the oracle verifier's ceiling) is 1 − C(m − c, n) / C(m, n) for c right solutions in the pool.
"""

import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from math import comb

from ..config import Count, FrozenConfig, PositiveFloat
from ..generation.base import Generator, SamplingParams


def _check_pool(n: int, m: int) -> None:
    if not 1 <= n <= m:
        raise ValueError(f"n must be between 1 and the pool size {m}, got {n}")


def best_of_n(scores: Sequence[float], correct: Sequence[bool], n: int) -> float:
    """Expected correctness of the highest-scored of ``n`` solutions drawn without replacement from one
    problem's pool of m (ties go to the earlier solution)."""
    import numpy as np

    from .best_of_n import expected_best_of_n

    _check_pool(n, len(scores))
    # expected_best_of_n breaks ties towards the later sample: reverse the pool to favour the earlier one
    reversed_scores, reversed_correct = np.asarray(scores, float)[::-1], np.asarray(correct, float)[::-1]
    return float(expected_best_of_n(reversed_scores[None], reversed_correct[None], n)[0])


def pass_at_n(correct: Sequence[bool], n: int) -> float:
    """P(at least one of ``n`` drawn solutions is right): what an oracle verifier would reach."""
    _check_pool(n, len(correct))
    return 1 - comb(len(correct) - sum(correct), n) / comb(len(correct), n)


def majority_vote(
    answers: Sequence[Hashable | None], truth: Hashable, n: int, *, draws: int = 200, seed: int = 0
) -> float:
    """P(the most common final answer among ``n`` drawn solutions is the truth) — self-consistency —
    estimated over ``draws`` random draws; unreadable answers (None) do not vote, ties break at random."""
    _check_pool(n, len(answers))
    rng, wins, pool = random.Random(seed), 0, list(answers)
    for _ in range(draws):
        votes = Counter(a for a in rng.sample(pool, n) if a is not None)
        if votes:
            top = max(votes.values())
            wins += rng.choice([a for a, v in votes.items() if v == top]) == truth
    return wins / draws


class BeamConfig(FrozenConfig):
    beam_width: Count = 4
    """Partial solutions kept after each step."""
    expansions: Count = 4
    """Next steps sampled from each kept partial solution."""
    max_steps: Count = 8
    """A solution still unfinished after this many steps is returned as it is."""
    step_tokens: Count = 16
    """Most tokens in one step."""
    temperature: PositiveFloat = 1.0


ScoreSteps = Callable[[Sequence[str], Sequence[Sequence[str]], Sequence[bool]], list[float]]
"""(prompts, partial solutions as lists of steps, whether each has ended) → one score per partial solution,
e.g. a PRM's Π p_i, with its end-of-solution probability for the ended ones."""


def step_beam_search(
    generator: Generator,
    score: ScoreSteps,
    prompts: Sequence[str],
    config: BeamConfig = BeamConfig(),
    *,
    separator: str = "\n",
    seed: int = 0,
) -> list[list[str]]:
    """Step-level beam search guided by a verifier: sample ``expansions`` next steps from each of the
    ``beam_width`` best partial solutions, score every extended prefix, keep the best, until every kept
    solution has ended (the generator stops before writing another step) or ``max_steps``.

    A step is what the generator writes up to ``separator``; the prefix it continues is the prompt and the
    steps so far, each followed by ``separator``, joined by spaces. Returns each prompt's best solution."""
    stop = separator.strip() or separator
    beams: list[list[tuple[tuple[str, ...], bool]]] = [[((), False)] for _ in prompts]  # (steps, ended)
    for depth in range(config.max_steps):
        jobs = [
            (p, steps)
            for p, beam in enumerate(beams)
            for steps, ended in beam
            if not ended
            for _ in range(config.expansions)
        ]
        if not jobs:
            break
        params = SamplingParams(
            max_new_tokens=config.step_tokens,
            temperature=config.temperature,
            stop=(stop,),
            seed=seed + depth,
        )
        texts = [" ".join([prompts[p], *(step + separator for step in steps)]) for p, steps in jobs]
        written = [c.text.strip() for c in generator.generate(texts, params)]
        candidates: list[dict[tuple[str, ...], bool]] = [
            {steps: True for steps, ended in beam if ended} for beam in beams
        ]
        for (p, steps), step in zip(jobs, written, strict=True):
            candidates[p].setdefault((*steps, step) if step else steps, not step)
        flat = [(p, steps, ended) for p, pool in enumerate(candidates) for steps, ended in pool.items()]
        scores = score(
            [prompts[p] for p, _, _ in flat],
            [list(steps) for _, steps, _ in flat],
            [ended for _, _, ended in flat],
        )
        beams = [[] for _ in prompts]
        for (p, steps, ended), _ in sorted(zip(flat, scores, strict=True), key=lambda item: -item[1]):
            if len(beams[p]) < config.beam_width:
                beams[p].append((steps, ended))
    return [list(beam[0][0]) for beam in beams]
