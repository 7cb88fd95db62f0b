"""Chain-of-thought faithfulness: does a model's answer follow from the reasoning it writes, and does the reasoning
say what moved the answer? (Lanham et al. 2023; Turpin et al. 2023; Chen et al. 2025.)"""

from .._lazy import lazy_exports

_EXPORTS = {
    "ReasoningFormat": "reasoner",
    "Reasoner": "reasoner",
    "EarlyAnswering": "lanham",
    "Intervention": "lanham",
    "early_answering": "lanham",
    "adding_mistakes": "lanham",
    "filler_tokens": "lanham",
    "paraphrase": "lanham",
    "SUGGESTED_ANSWER": "hints",
    "with_suggested_answer": "hints",
    "always_a": "hints",
    "mentions_bias": "hints",
    "HintFaithfulness": "hints",
    "hint_faithfulness": "hints",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
