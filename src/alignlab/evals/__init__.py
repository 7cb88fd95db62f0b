"""Behavioral evaluations."""

from .refusal import looks_like_refusal

__all__ = ["looks_like_refusal"]
