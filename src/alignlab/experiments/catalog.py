"""The catalog: every experiment alignlab ships, by name."""

import importlib

from ..errors import AlignlabError
from .registry import Experiment

MODULES = [
    "quickstart",
    "tiny_pretrain",
    "grpo",
    "distillation",
    "rlhf_pipeline",
    "dpo_robustness",
    "dpo_frontier",
    "overoptimization",
    "reward_hacking",
    "logit_lens",
    "fact_patching",
    "tuned_lens",
    "sae",
    "induction_heads",
    "moe_routing",
    "superposition",
    "cai",
    "cai_training",
    "debate_qa",
    "debate_pixels",
    "debate_self_play",
    "honest_vs_deceptive",
    "steering",
    "safety_features",
    "weak_to_strong",
    "prm_vs_orm",
    "rlaif_vs_rlhf",
    "prover_verifier",
    "sycophancy",
    "sycophancy_rm",
    "overconfidence_rm",
    "over_refusal",
    "calibration",
    "consistency",
    "many_shot",
    "red_team_rl",
    "gcg",
    "fuzzing",
    "emergence",
    "chinchilla",
    "cot_faithfulness",
    "amplification",
    "unfaithful_explanations",
]


def catalog() -> dict[str, Experiment]:
    experiments: dict[str, Experiment] = {}
    for module_name in MODULES:
        exp = importlib.import_module(f"{__package__}.{module_name}").EXPERIMENT
        if exp.name in experiments:
            raise RuntimeError(f"two experiments are named {exp.name!r}")
        experiments[exp.name] = exp
    return experiments


def get_experiment(name: str) -> Experiment:
    experiments = catalog()
    if name not in experiments:
        raise AlignlabError(f"unknown experiment {name!r}; experiments: {', '.join(experiments)}")
    return experiments[name]
