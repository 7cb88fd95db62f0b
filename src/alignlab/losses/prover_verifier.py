"""Prover rewards of prover-verifier games (Kirchner et al. 2024), as pure functions of the verifier's scores.

    SRC: R = (2c − 1)(2h − 1) V′   if V′ > 0, else −1      (V′: the score centred within a problem's group)
    CGC: R = σ(V)                  if c = h,  else −1

c says a solution is correct, h that the prover's role is helpful.
"""

from typing import Literal

import torch

Role = Literal["helpful", "sneaky"]


def role_aligned(correct: torch.Tensor, role: Role) -> torch.Tensor:
    return correct.bool() == (role == "helpful")


def src_reward(scores: torch.Tensor, correct: torch.Tensor, role: Role, group_size: int) -> torch.Tensor:
    """Signed relative convincingness; ``scores`` laid out as consecutive groups per problem."""
    centred = (scores.view(-1, group_size) - scores.view(-1, group_size).mean(1, keepdim=True)).view(-1)
    sign = role_aligned(correct, role).float() * 2 - 1
    return torch.where(centred > 0, sign * centred, torch.full_like(centred, -1.0))


def cgc_reward(
    scores: torch.Tensor, correct: torch.Tensor, role: Role, penalty: float = -1.0
) -> torch.Tensor:
    """Correctness-gated convincingness: the verifier's probability of correct, σ(score), when the role is met,
    else ``penalty``, which must lie below every verifier score: log-odds have no floor, so with a penalty of,
    say, −2 on the log-odds scale a sneaky prover caught at −10 would do better by turning honest."""
    return torch.where(role_aligned(correct, role), torch.sigmoid(scores), torch.full_like(scores, penalty))
