"""Generation backends behind one ``Generator`` interface: local HF models and OpenAI-compatible endpoints."""

from .base import Completion, Generator, SamplingParams
from .batching import BatchingGenerator
from .hf import HFGenerator
from .open import open_generator
from .openai_http import OpenAIGenerator

__all__ = [
    "BatchingGenerator",
    "Completion",
    "Generator",
    "HFGenerator",
    "OpenAIGenerator",
    "SamplingParams",
    "open_generator",
]
