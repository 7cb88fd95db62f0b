"""Prover-verifier games (Kirchner et al. 2024): checkability training on verifiable arithmetic.

A small verifier learns to score solutions by whether they are correct; a *helpful* prover is rewarded for
correct solutions the verifier believes, a *sneaky* prover for wrong ones it believes. Each round the verifier
is retrained from scratch on every earlier round's solutions, then both provers are retrained against it.

Provers are rewarded with the signed relative convincingness (SRC) of the paper,

    R_SRC(z | x, role) = (2c − 1)(2h − 1) V′(x, z)   if V′(x, z) > 0,   else −1,

where c says z is correct, h that the role is helpful, and V′ is the verifier's score centred over the
samples for the same problem; correctness-gated convincingness (CGC) is R = P_V(correct) if c = h, else −1.

The provers here are strong at arithmetic: they always know the right value, and what they choose is how to
*write* the chain — where to slip a digit or mis-copy an operand, and which pairs of operations to merge into
one step whose intermediate value goes unwritten. The verifier checks written steps; it reads each as fields
(numbers as value and digits, operators and operands beside the problem's) and multiplies its per-step
probabilities (a noisy AND), trained from the final answer's correctness alone, by class-balanced
cross-entropy where the paper uses a pairwise loss between correct and incorrect solutions. A transformer verifier reading the text did not learn to check a step on
the CPU budget (see prm-vs-orm), which is why this one reads steps as fields.
"""

from ...losses.prover_verifier import Role, cgc_reward, role_aligned, src_reward
from .fields import encode_solutions, step_features
from .provers import (
    UNREADABLE_LOG_ODDS,
    ProverConfig,
    ProverPolicy,
    lm_prover_reward,
    prover_rewards,
    sample_solutions,
    train_prover,
)
from .solutions import FLAWS, Solution, WrittenStep, apply_flaw, parse_solution, write_solution
from .verifier import StepVerifier, VerifierConfig, log_odds, train_step_verifier, verifier_scores

__all__ = [
    "FLAWS",
    "UNREADABLE_LOG_ODDS",
    "ProverConfig",
    "ProverPolicy",
    "Role",
    "Solution",
    "StepVerifier",
    "VerifierConfig",
    "WrittenStep",
    "apply_flaw",
    "cgc_reward",
    "encode_solutions",
    "lm_prover_reward",
    "log_odds",
    "parse_solution",
    "prover_rewards",
    "role_aligned",
    "sample_solutions",
    "src_reward",
    "step_features",
    "train_prover",
    "train_step_verifier",
    "verifier_scores",
    "write_solution",
]
