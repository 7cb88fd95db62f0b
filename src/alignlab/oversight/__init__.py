"""AI feedback and scalable oversight: constitutions, critique and revision, AI preference labels, debate,
weak-to-strong supervision, process supervision, prover-verifier games."""

from .cai import CAIResult, ConstitutionalPipeline, Critic, Critique, Reviser, sl_cai_records
from .constitution import Constitution, Principle, default_constitution, load_constitution
from .rlaif import (
    PairwiseJudge,
    PreferenceLabel,
    ViolationCountLabeler,
    labeler_report,
    preference_records,
)

__all__ = [
    "CAIResult",
    "Constitution",
    "ConstitutionalPipeline",
    "Critic",
    "Critique",
    "PairwiseJudge",
    "PreferenceLabel",
    "ViolationCountLabeler",
    "labeler_report",
    "preference_records",
    "Principle",
    "Reviser",
    "default_constitution",
    "load_constitution",
    "sl_cai_records",
]
