"""Data: TRL-format records with errors naming file, row and field; synthetic tasks with gold rewards;
multi-step arithmetic with programmatic step labels; small built-in sets.

Names resolve lazily, so reading a JSONL file does not import torch.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "PreferenceExample": "formats",
    "CompletionExample": "formats",
    "StepwiseExample": "formats",
    "load_preferences": "formats",
    "load_completions": "formats",
    "load_stepwise": "formats",
    "check_lengths": "formats",
    "read_text_file": "formats",
    "MarkovLanguage": "synthetic",
    "TopicMarkovLanguage": "synthetic",
    "SentimentTask": "tasks",
    "AdditionTask": "tasks",
    "label_pairs": "tasks",
    "ArithmeticChainTask": "arithmetic_chains",
    "ChainProblem": "arithmetic_chains",
    "grade": "arithmetic_chains",
    "Story": "stories",
    "fictional_stories": "stories",
    "docstring_corpus": "corpus",
    "token_blocks": "corpus",
    "train_eval_blocks": "corpus",
    "load_builtin": "builtin_data",
}
__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
