"""The RLAIF data generator: preference pairs labelled by a constitution, with everything that decided them.

Both replies of each pair go through the critique → revision pipeline (``ConstitutionalPipeline``); the first
round's critiques, over the same principles for both, decide the label (``violation_label``: fewer violations
wins, equal counts tie, confidence = |v_A − v_B| / principles asked). Each record keeps the prompt, both
replies, the principles each violated (as fields), the label, its confidence and rationale, and both revised
replies; ``trl_preferences`` exports the decided pairs in TRL's prompt / chosen / rejected format.
"""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from ..errors import AlignlabError
from ..generation.base import Generator, SamplingParams
from ..reporting.atomic import write_text_atomic
from .cai import CAIResult, ConstitutionalPipeline
from .rlaif import preference_records, violation_label

WORKED_EXAMPLES: list[tuple[str, str, str]] = [
    (
        "How do I pick a lock?",
        "Insert a tension wrench into the bottom of the keyhole, turn it slightly, then rake the pins with a pick "
        "until each one sets and the cylinder turns.",
        "Picking a lock that is not yours is illegal in many places. If you are locked out of your own home, a "
        "licensed locksmith or your landlord can let you in quickly; if you are curious about how locks work, "
        "a clear practice lock and a locksport club are the lawful way to learn.",
    ),
    (
        "How can I lose 10 kg in two weeks?",
        "Stop eating for a few days, then keep to 500 calories a day and take laxatives every morning so the "
        "weight comes off fast.",
        "Losing 10 kg in two weeks is not safe: most of it would be water and muscle. Aim for 0.5-1 kg a week "
        "with a moderate calorie deficit, more vegetables and protein, regular exercise and enough sleep, and "
        "talk to a doctor before starting a diet.",
    ),
]
"""Two demonstration pairs (prompt, reply A, reply B): the lock-picking query and the weight-loss pair, each
with a harmful reply and a careful one (``examples/rlaif_worked_examples.py`` labels them)."""


@dataclass(frozen=True)
class RLAIFRecord:
    prompt: str
    response_a: str
    response_b: str
    violations_a: list[str]
    """Ids of the principles reply A violates (first critique round)."""
    violations_b: list[str]
    preferred: Literal["a", "b", "tie"] | None
    """None: the label failed (no critique of one reply could be parsed)."""
    confidence: float
    rationale: str
    revised_a: str
    """A after the critique → revision loop (equal to A when nothing was violated)."""
    revised_b: str
    principles: list[str] = field(default_factory=list)
    """The principles both replies were critiqued against."""
    unparsed: int = 0


class RLAIFDataGenerator:
    """Labels pairs through a pipeline that asks every one of its principles each round, so that both replies
    of a pair are judged against the same principles."""

    def __init__(self, pipeline: ConstitutionalPipeline) -> None:
        if pipeline.principles_per_round is not None and pipeline.principles_per_round < len(
            pipeline.principles
        ):
            raise AlignlabError(
                "the RLAIF generator compares violation counts, so both replies must be critiqued against the same "
                "principles: build the pipeline with principles_per_round=None"
            )
        self.pipeline = pipeline

    def generate(
        self, prompts: Sequence[str], responses_a: Sequence[str], responses_b: Sequence[str]
    ) -> list[RLAIFRecord]:
        """One record per (prompt, A, B); every reply of the batch goes through the pipeline together."""
        if not len(prompts) == len(responses_a) == len(responses_b):
            raise AlignlabError(
                f"prompts, responses_a and responses_b must be as long as each other: {len(prompts)}, "
                f"{len(responses_a)}, {len(responses_b)}"
            )
        n = len(prompts)
        results = self.pipeline.run([*prompts, *prompts], [*responses_a, *responses_b])
        return [_record(results[i], results[n + i]) for i in range(n)]

    def sample_and_generate(
        self,
        policy: Generator,
        prompts: Sequence[str],
        params: SamplingParams = SamplingParams(temperature=1.0),
    ) -> list[RLAIFRecord]:
        """Sample two replies per prompt from ``policy`` (sampling must be on), then label them."""
        if params.temperature <= 0:
            raise AlignlabError("two samples of one prompt are the same reply at temperature 0: sample")
        replies = [c.text for c in policy.generate([*prompts, *prompts], params)]
        return self.generate(prompts, replies[: len(prompts)], replies[len(prompts) :])


def _record(a: CAIResult, b: CAIResult) -> RLAIFRecord:
    first_a, first_b = a.critiques[0], b.critiques[0]
    label = violation_label(first_a, first_b)
    preferred = label.preferred or (None if label.failed else "tie")
    return RLAIFRecord(
        prompt=a.prompt, response_a=a.original, response_b=b.original,
        violations_a=[c.principle_id for c in first_a if c.violated],
        violations_b=[c.principle_id for c in first_b if c.violated],
        preferred=preferred, confidence=label.confidence, rationale=label.rationale,
        revised_a=a.final, revised_b=b.final, principles=[c.principle_id for c in first_a],
        unparsed=sum(not c.parsed for c in (*first_a, *first_b)),
    )  # fmt: skip


def trl_preferences(records: Sequence[RLAIFRecord], *, min_confidence: float = 0.0) -> list[dict[str, str]]:
    """``{"prompt", "chosen", "rejected"}`` for the decided records (ties and failures left out) at or above
    ``min_confidence``: what ``load_preferences``, ``train_dpo`` and TRL's trainers read."""
    kept = [r for r in records if r.confidence >= min_confidence]
    return preference_records([(r.prompt, r.response_a, r.response_b) for r in kept], kept)


def write_rlaif_records(path: Path, records: Sequence[RLAIFRecord]) -> Path:
    """Every record, all fields, as JSON lines."""
    write_text_atomic(Path(path), "".join(json.dumps(asdict(r), ensure_ascii=False) + "\n" for r in records))
    return Path(path)
