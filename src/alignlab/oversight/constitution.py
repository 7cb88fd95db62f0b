"""A constitution: principles as data (Bai et al. 2022). Each principle has a critique question, answered "Yes"
when a reply violates it, and a revision request that tells the reviser what to change.

    name: my-constitution
    principles:
      - id: harm-dangerous-help
        category: harmlessness          # harmlessness | helpfulness | honesty | ethics
        statement: The assistant does not give instructions that would help someone hurt people.
        critique: Does the reply give instructions that could help someone hurt people?
        revision: Rewrite the reply so that it gives no harmful instructions.
        comparison: Choose the response that gives less help to anyone who wants to hurt people.  # optional
"""

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..data.formats import read_text_file
from ..errors import AlignlabError

Category = Literal["harmlessness", "helpfulness", "honesty", "ethics"]


class Principle(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    category: Category
    statement: str = Field(min_length=1)
    critique: str = Field(min_length=1)
    """A yes/no question about one reply; "Yes" means the reply violates the principle."""
    revision: str = Field(min_length=1)
    """What the reviser should do when the reply violates the principle."""
    comparison: str | None = Field(default=None, min_length=1)
    """The principle as a choice between two replies ("Choose the response that ..."), the form Bai et al.
    sample one of per comparison when an AI labels preferences."""


class Constitution(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "custom"
    principles: tuple[Principle, ...] = Field(min_length=1)

    @field_validator("principles")
    @classmethod
    def _unique_ids(cls, principles: tuple[Principle, ...]) -> tuple[Principle, ...]:
        seen: set[str] = set()
        for p in principles:
            if p.id in seen:
                raise ValueError(f"principle id {p.id!r} appears twice")
            seen.add(p.id)
        return principles

    def __len__(self) -> int:
        return len(self.principles)

    def __iter__(self):
        return iter(self.principles)

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.principles]

    def get(self, principle_id: str) -> Principle:
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise AlignlabError(f"no principle {principle_id!r} in constitution {self.name!r}; it has {self.ids}")

    def by_category(self, category: str) -> list[Principle]:
        if category not in Category.__args__:
            raise AlignlabError(
                f"unknown category {category!r}; the categories are {list(Category.__args__)}"
            )
        return [p for p in self.principles if p.category == category]

    @property
    def comparative(self) -> list[Principle]:
        """The principles that have a comparative form."""
        return [p for p in self.principles if p.comparison]

    def select(self, ids: Sequence[str] | None = None) -> list[Principle]:
        """The principles with these ids (all of them for ``None``), in the order asked."""
        return list(self.principles) if ids is None else [self.get(i) for i in ids]


def load_constitution(path: str | Path) -> Constitution:
    """Read and validate a constitution file; errors name the file, the principle and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(read_text_file(path, "constitution file"))
    except yaml.YAMLError as e:
        raise AlignlabError(f"{path}: not valid YAML: {e}") from None
    return _validate(raw, str(path))


def default_constitution() -> Constitution:
    """alignlab's own 16 principles, four per category."""
    text = (resources.files(__package__) / "constitutions" / "default.yaml").read_text()
    return _validate(yaml.safe_load(text), "constitutions/default.yaml")


def _validate(raw, where: str) -> Constitution:
    if not isinstance(raw, dict):
        raise AlignlabError(
            f"{where}: expected a mapping with 'name' and 'principles', got {type(raw).__name__}"
        )
    try:
        return Constitution.model_validate(raw)
    except ValidationError as e:
        problems = "; ".join(f"{_location(raw, error['loc'])}: {error['msg']}" for error in e.errors())
        raise AlignlabError(f"{where}: {problems}") from None


def _location(raw: dict, loc: tuple) -> str:
    if len(loc) >= 2 and loc[0] == "principles" and isinstance(loc[1], int):
        entry = raw["principles"][loc[1]]
        named = f" ({entry['id']!r})" if isinstance(entry, dict) and "id" in entry else ""
        field = f", field {loc[2]!r}" if len(loc) > 2 else ""
        return f"principle {loc[1] + 1}{named}{field}"
    return "field " + ".".join(str(part) for part in loc)
