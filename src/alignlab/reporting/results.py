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


class SeedResult(BaseModel):
    """One seed's share of a run: its own verdict, headline figures and the full measured record."""

    seed: int
    verdict: Verdict
    summary: str
    measured: dict[str, Any]
    """Headline figures, as in ``Results.measured``."""
    record: dict[str, Any]
    """Everything the experiment measured for this seed (its typed record)."""
    duration_s: float


class Results(BaseModel):
    experiment: str
    preset: str
    seeds: list[int]
    device: str
    claim: Claim
    paper_figures: dict[str, Any]
    """The paper's numbers, under the same keys as ``measured`` where they are comparable."""
    measured: dict[str, Any]
    """Headline figures, pooled over the seeds."""
    verdict: Verdict
    """Decided once on the pooled records; partial at best when the seeds' own verdicts differ."""
    reasons: list[str] = []
    summary: str
    per_seed: list[SeedResult] = []
    started_at: str
    finished_at: str
    duration_s: float
    alignlab_version: str
    source_revision: str = ""
