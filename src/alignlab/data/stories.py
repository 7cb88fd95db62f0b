"""Short fictional stories with a reading-comprehension question, written from templates: as many as a
protocol needs, none of them answerable from world knowledge (the names and events are made up), each with
a correct answer and a distractor that the story also mentions, so both sides of a debate have sentences to
quote.
"""

import random
from dataclasses import dataclass

NAMES = (
    "Mira", "Oren", "Talia", "Bram", "Sefa", "Lio", "Nessa", "Corin", "Ilka", "Pavo", "Renna", "Tamsin",
    "Osric", "Dalia", "Fenn", "Yara", "Quill", "Hesper", "Jory", "Wynn",
)  # fmt: skip
TOWNS = ("Tallow", "Brindle", "Ashcombe", "Merrow", "Quenby", "Larkfield", "Oddsey", "Fernhollow")
PLACES = (
    "the harbour", "the old mill", "the market square", "the lighthouse", "the orchard", "the bakery",
    "the library", "the river bridge", "the chapel", "the blacksmith's forge",
)  # fmt: skip
OBJECTS = (
    "a silver key", "a blue lantern", "a wooden flute", "a red scarf", "a brass compass", "a clay jar",
    "a leather satchel", "a copper bell", "a painted kite", "a glass bottle",
)  # fmt: skip
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Story:
    passage: str
    question: str
    correct: str
    distractor: str


def _story(rng: random.Random) -> Story:
    a, b = rng.sample(NAMES, 2)
    town = rng.choice(TOWNS)
    lost_at, found_at, searched = rng.sample(PLACES, 3)
    lost, found = rng.sample(OBJECTS, 2)
    day, other_day = rng.sample(DAYS, 2)
    passage = (
        f"{a} and {b} lived in the town of {town}. On {day}, {a} lost {lost} at {lost_at}. "
        f"On {other_day}, {b} went to {found_at} and found {found} there. "
        f"{a} searched {searched} for a whole afternoon but found nothing."
    )
    kind = rng.randrange(4)
    if kind == 0:
        return Story(passage, f"Where did {a} lose {lost}?", f"at {lost_at}", f"at {found_at}")
    if kind == 1:
        return Story(passage, f"What did {b} find at {found_at}?", found, lost)
    if kind == 2:
        return Story(passage, f"On which day did {a} lose {lost}?", f"on {day}", f"on {other_day}")
    return Story(passage, f"Where did {a} search for a whole afternoon?", searched, found_at)


def fictional_stories(n: int, *, seed: int) -> list[Story]:
    """``n`` distinct stories and questions (four kinds of question, drawn at random)."""
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < n:
        story = _story(rng)
        if (story.passage, story.question) not in seen:
            seen.add((story.passage, story.question))
            out.append(story)
    return out
