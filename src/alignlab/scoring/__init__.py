"""Tokenizing prompt/completion pairs (chat templates, padding) and scoring completions by log-probability."""

from .encode import (
    Message,
    Prompt,
    PromptCompletionBatch,
    collate_prompt_completion,
    encode_completions,
    encode_prompts,
    format_prompt,
    pad,
)
from .logprobs import ScoredCompletion, completion_token_logprobs, score_completions, token_logprobs

__all__ = [
    "Message",
    "Prompt",
    "PromptCompletionBatch",
    "ScoredCompletion",
    "collate_prompt_completion",
    "completion_token_logprobs",
    "encode_completions",
    "encode_prompts",
    "format_prompt",
    "pad",
    "score_completions",
    "token_logprobs",
]
