"""What an experiment claims and what it found: the schema of ``results.json``."""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Verdict = Literal["reproduced", "partial", "not_reproduced", "not_applicable"]


class Claim(BaseModel):
    """One finding from the literature, as the experiment tests it."""

    model_config = ConfigDict(frozen=True)

    paper: str
    """Authors, year and title."""
    finding: str
    """The paper's figure or statement, as reported."""
    expectation: str
    """What a small-scale run must show to count as reproducing it."""


class Results(BaseModel):
    experiment: str
    preset: str
    seed: int
    device: str
    claim: Claim
    paper_figures: dict[str, Any]
    """The paper's numbers, under the same keys as ``measured`` where they are comparable."""
    measured: dict[str, Any]
    verdict: Verdict
    summary: str
    started_at: str
    finished_at: str
    duration_s: float
    alignlab_version: str
