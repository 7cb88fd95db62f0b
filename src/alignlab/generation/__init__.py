"""Generation backends behind one ``Generator`` interface: local HF models and OpenAI-compatible endpoints."""

from .base import Completion, Generator, SamplingParams
from .hf import HFGenerator
from .openai_http import OpenAIGenerator

__all__ = ["Completion", "Generator", "HFGenerator", "OpenAIGenerator", "SamplingParams"]
