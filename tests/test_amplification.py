"""alignlab.oversight.amplification: the amplify-then-distill loop on a model whose knowledge is a table."""

import pytest


def test_iterated_amplification_propagates_what_the_overseer_knows():
    """A table 'model' distilled from an overseer who knows only sigma learns every power of it, one doubling of
    reach per round; distilled from itself alone it would learn nothing."""
    from alignlab.experiments.amplification import overseer_for, power
    from alignlab.oversight.amplification import iterated_amplification

    sigma = [1, 2, 3, 4, 5, 6, 7, 0]
    questions = [(x, k) for k in range(1, 9) for x in range(8)]
    table: dict = {}
    ask = lambda batch: [table.get(q, -1) for q in batch]  # noqa: E731
    reach = []

    def distill(batch, labels):
        table.update(zip(batch, labels, strict=True))

    history = iterated_amplification(questions, overseer_for(sigma), ask, distill, rounds=4,
                                     on_round=lambda r: reach.append(max(k for (x, k) in questions if table[(x, k)] == power(sigma, x, k))))  # fmt: skip
    assert reach == [1, 2, 4, 8] and all(table[q] == power(sigma, *q) for q in questions)
    assert [r.model_calls for r in history] == [2 * 56] * 4 and history[0].labels[:8] == sigma
    with pytest.raises(ValueError, match="answered 1 of 64"):
        iterated_amplification(questions, lambda qs, a: [0], ask, distill, rounds=1)


def test_training_questions_are_spread_evenly_over_difficulty_levels():
    from alignlab.experiments.amplification import level_weights

    powers = [k for k in range(1, 33) for _ in range(16)]
    weights = level_weights(powers)
    by_level = {}
    for k, w in zip(powers, weights, strict=True):
        by_level[k.bit_length() - 1] = by_level.get(k.bit_length() - 1, 0) + w
    assert sorted(by_level) == [0, 1, 2, 3, 4, 5] and all(
        v == pytest.approx(1 / 6) for v in by_level.values()
    )
    assert weights[0] == pytest.approx(1 / 6 / 16)  # each base case: 1/96, not 1/512
