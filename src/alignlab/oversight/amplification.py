"""Iterated amplification (Christiano, Shlegeris & Amodei 2018, Supervising strong learners by amplifying weak
experts): an overseer who can only answer small questions answers big ones by splitting them into subquestions that
the current model answers; the model is then trained to imitate the amplified overseer, and the loop repeats.

    X_0 = a fresh model
    Amplify(H, X_t)(q) = H's answer to q, computed with X_t answering H's subquestions
    X_{t+1} = X_t distilled on (q, Amplify(H, X_t)(q)) for questions q

No ground truth enters except what H itself knows; ``iterated_amplification`` is the loop, the task supplies the
overseer (batched: it sees the whole round's questions and asks the model in batches) and the distillation step.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Q = TypeVar("Q")
A = TypeVar("A")

Ask = Callable[[Sequence[Q]], list[A]]
"""The current model, answering a batch of questions."""


@dataclass(frozen=True)
class AmplificationRound(Generic[Q, A]):
    round: int
    labels: list[A]
    """What the amplified overseer answered, question by question: the distillation targets of this round."""
    model_calls: int
    """Subquestions the model answered for the overseer this round."""


def iterated_amplification(
    questions: Sequence[Q],
    overseer: Callable[[Sequence[Q], Ask], list[A]],
    ask: Ask,
    distill: Callable[[Sequence[Q], Sequence[A]], None],
    *,
    rounds: int,
    on_round: Callable[[AmplificationRound], None] | None = None,
) -> list[AmplificationRound]:
    """``rounds`` times: label ``questions`` with ``overseer(questions, ask)`` and ``distill(questions, labels)``
    into the model behind ``ask``. Returns each round's labels and how many subquestions the model answered."""
    history = []
    for t in range(rounds):
        calls = 0

        def counted(subquestions: Sequence[Q]) -> list[A]:
            nonlocal calls
            calls += len(subquestions)
            return ask(subquestions)

        labels = overseer(questions, counted)
        if len(labels) != len(questions):
            raise ValueError(f"the overseer answered {len(labels)} of {len(questions)} questions")
        distill(questions, labels)
        history.append(AmplificationRound(t, list(labels), calls))
        if on_round is not None:
            on_round(history[-1])
    return history
