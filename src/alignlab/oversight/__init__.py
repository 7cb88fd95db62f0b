"""AI feedback and scalable oversight: constitutions, critique and revision, AI preference labels, debate,
weak-to-strong supervision, process supervision, prover-verifier games, iterated amplification."""

from .amplification import AmplificationRound, iterated_amplification
from .best_of_n import best_of_n_kl, expected_best_of_n, fit_bon, fit_rl
from .cai import CAIResult, ConstitutionalPipeline, Critic, Critique, Reviser, sl_cai_records
from .constitution import Constitution, Principle, default_constitution, load_constitution
from .debate import (
    DebateArena,
    DebateQuestion,
    Debater,
    DebateResult,
    LLMJudge,
    QuoteJudge,
    debate_statistics,
)
from .process_supervision import BeamConfig, best_of_n, majority_vote, pass_at_n, step_beam_search
from .rlaif import (
    PairwiseJudge,
    PreferenceLabel,
    ViolationCountLabeler,
    labeler_report,
    preference_records,
    violation_label,
)
from .rlaif_data import (
    WORKED_EXAMPLES,
    RLAIFDataGenerator,
    RLAIFRecord,
    trl_preferences,
    write_rlaif_records,
)
from .roles import CritiqueRole, DebateJudge, PreferenceLabeler, RevisionRole
from .rule_critic import DEFAULT_RULES, RuleCritic
from .weak_to_strong import (
    Student,
    StudentConfig,
    confidence_loss,
    performance_gap_recovered,
    pretrain_trunk,
    train_student,
)

__all__ = [
    "AmplificationRound",
    "iterated_amplification",
    "BeamConfig",
    "DebateArena",
    "DebateQuestion",
    "DebateResult",
    "Debater",
    "LLMJudge",
    "QuoteJudge",
    "Student",
    "StudentConfig",
    "best_of_n",
    "best_of_n_kl",
    "confidence_loss",
    "debate_statistics",
    "expected_best_of_n",
    "fit_bon",
    "fit_rl",
    "majority_vote",
    "pass_at_n",
    "performance_gap_recovered",
    "pretrain_trunk",
    "step_beam_search",
    "train_student",
    "CAIResult",
    "CritiqueRole",
    "DebateJudge",
    "PreferenceLabeler",
    "RevisionRole",
    "Constitution",
    "ConstitutionalPipeline",
    "Critic",
    "Critique",
    "PairwiseJudge",
    "PreferenceLabel",
    "ViolationCountLabeler",
    "labeler_report",
    "preference_records",
    "violation_label",
    "RLAIFDataGenerator",
    "WORKED_EXAMPLES",
    "RLAIFRecord",
    "trl_preferences",
    "write_rlaif_records",
    "DEFAULT_RULES",
    "RuleCritic",
    "Principle",
    "Reviser",
    "default_constitution",
    "load_constitution",
    "sl_cai_records",
]
