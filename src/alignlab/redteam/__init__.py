"""Red teaming on the eval layer: converters, red LMs, many-shot prompts and GCG suffixes, every attempt
logged as an eval sample."""

from .._lazy import lazy_exports

_EXPORTS = {
    "CONVERTERS": "converters",
    "Converter": "converters",
    "convert": "converters",
    "converter": "converters",
    "attempts_task": "attempts",
    "success_by_stack": "attempts",
    "StackResult": "attempts",
    "many_shot_nll": "many_shot",
    "fit_power_law": "many_shot",
    "gcg": "gcg",
    "GCGResult": "gcg",
    "suffix_effect": "gcg",
    "PAIR": "pair",
    "LLMJudge": "pair",
    "PAIRScore": "pair",
    "TemplateFuzzer": "fuzzing",
    "MCTSExplore": "fuzzing",
    "MUTATORS": "fuzzing",
    "SearchScore": "fuzzing",
    "TargetReward": "attacker",
    "attack_task": "attacker",
    "summarize": "attacker",
    "few_shot_prompts": "attacker",
    "self_bleu": "diversity",
    "distinct_n": "diversity",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
