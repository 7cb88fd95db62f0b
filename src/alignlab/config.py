"""Field types for configs, so that every number a user can set is bounded where it is declared.

A config is a frozen pydantic model whose fields use these types; a value out of range is refused when the
config is built (before any run folder exists), with the field's name in the message.
"""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_COUNT = 10_000_000
"""Larger counts are typos or attacks, not experiments: 1e7 steps of anything is months on one GPU."""

Count = Annotated[int, Field(ge=1, le=MAX_COUNT)]
"""A positive count: steps, samples, layers, widths."""
NonNegativeCount = Annotated[int, Field(ge=0, le=MAX_COUNT)]
LearningRate = Annotated[float, Field(gt=0, le=10)]
Probability = Annotated[float, Field(ge=0, le=1)]
"""A probability or a share, in [0, 1]."""
OpenProbability = Annotated[float, Field(gt=0, lt=1)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class FrozenConfig(BaseModel):
    """Base of alignlab's configs: immutable, unknown fields are errors, NaN and infinities are refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
