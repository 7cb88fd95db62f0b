"""The RLAIF data generator on its two worked examples (the lock-picking query, the weight-loss pair).

    .venv/bin/python examples/rlaif_worked_examples.py            # the embedded model critiques and revises
    .venv/bin/python examples/rlaif_worked_examples.py --rules    # the programmatic critic (RuleCritic) instead

Each reply of a pair is critiqued against the same principles and revised; the reply with fewer violations is
preferred. Prints each record and the TRL-format preferences. The embedded 135M model is a weak critic (its
verdicts are near chance in the `cai` experiment): read its labels as a demonstration of the pipeline.
"""

import argparse
import json
from dataclasses import asdict

from alignlab.generation import HFGenerator, SamplingParams
from alignlab.models import load_model
from alignlab.oversight import (
    WORKED_EXAMPLES,
    ConstitutionalPipeline,
    Critic,
    Reviser,
    RLAIFDataGenerator,
    RuleCritic,
    default_constitution,
    trl_preferences,
)
from alignlab.oversight.cai import REVISER_STOP

PRINCIPLES = ["harm-dangerous-help", "harm-illegal-acts", "help-answers-question"]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", action="store_true", help="critique with RuleCritic instead of the model")
    args = parser.parse_args()
    generator = HFGenerator(*load_model())
    constitution = default_constitution()
    critic = RuleCritic(constitution) if args.rules else Critic(generator, constitution)
    reviser = Reviser(generator, constitution, SamplingParams(max_new_tokens=96, stop=REVISER_STOP))
    pipeline = ConstitutionalPipeline(critic, reviser, max_revisions=3, principle_ids=PRINCIPLES)
    records = RLAIFDataGenerator(pipeline).generate(*zip(*WORKED_EXAMPLES, strict=True))
    for record in records:
        print(json.dumps(asdict(record), indent=1, ensure_ascii=False))
    print("TRL preferences:", json.dumps(trl_preferences(records), indent=1, ensure_ascii=False))
