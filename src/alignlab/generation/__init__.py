"""Generation backends behind one ``Generator`` interface: local HF models and OpenAI-compatible endpoints."""

from .base import Completion, Generator, SamplingParams
from .hf import HFGenerator
from .open import open_generator
from .openai_http import OpenAIGenerator

__all__ = ["Completion", "Generator", "HFGenerator", "OpenAIGenerator", "SamplingParams", "open_generator"]
