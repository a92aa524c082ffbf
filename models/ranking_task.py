"""Next-utterance selection built from dialogues: the gold reply among 19 distractors.

The official ConvAI2 candidates are not available, so distractors are drawn, with a fixed
seed, from the replies of *other* users (as Zhang et al. 2018 built theirs); the metric is
reported as "hits@1/20 (reconstructed candidates)". The gold reply is candidate 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

GOLD = 0
DEFAULT_DISTRACTORS = 19


@dataclass(frozen=True)
class Utterance:
    """One user's reply at one position of their history (the unit the task ranks)."""

    user_id: str
    position: int
    context: str
    response: str
    persona: tuple[str, ...]
    source: str = "personachat"


@dataclass(frozen=True)
class RankingExample:
    user_id: str
    position: int
    context: str
    persona: tuple[str, ...]
    candidates: tuple[str, ...]  # candidates[GOLD] is the true reply
    source: str = "personachat"


def build_examples(
    utterances: Sequence[Utterance],
    *,
    distractor_pool: Sequence[tuple[str, str]] | None = None,
    distractors: int = DEFAULT_DISTRACTORS,
    seed: int,
) -> list[RankingExample]:
    """Attach ``distractors`` replies of other users to each utterance.

    ``distractor_pool`` holds ``(user_id, reply)`` pairs (default: the utterances' own
    replies). A distractor never comes from the same user and never equals the gold text.
    """
    pool = list(distractor_pool or [(u.user_id, u.response) for u in utterances])
    rng = np.random.default_rng(seed)
    examples = []
    for utterance in utterances:
        chosen: list[str] = []
        seen = {utterance.response}
        while len(chosen) < distractors:
            for index in rng.integers(0, len(pool), size=2 * distractors):
                owner, text = pool[int(index)]
                if owner != utterance.user_id and text not in seen and len(chosen) < distractors:
                    chosen.append(text)
                    seen.add(text)
        examples.append(
            RankingExample(
                utterance.user_id,
                utterance.position,
                utterance.context,
                utterance.persona,
                (utterance.response, *chosen),
                utterance.source,
            )
        )
    return examples
