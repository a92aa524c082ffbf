"""Find which ConvAI2 dialogue another data set's conversation belongs to.

Synthetic-Persona-Chat and Multi-Session Chat reuse ConvAI2's persona pairs, but cased
and sometimes reworded ("I've a son" / "I have a son"). A single persona recurs across
ConvAI2 dialogues with different partners, so the match is on the pair: each side's
facts are compared as bags of lower-cased words (Jaccard), and the dialogue whose weaker
side matches best, above a threshold, wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from models.data.personachat import Dialogue

_WORD = re.compile(r"[a-z0-9]+")
MIN_JACCARD = 0.5


def words(facts: Sequence[str]) -> frozenset[str]:
    return frozenset(_WORD.findall(" ".join(facts).lower().replace("'", "")))


def jaccard(first: frozenset[str], second: frozenset[str]) -> float:
    union = first | second
    return len(first & second) / len(union) if union else 0.0


@dataclass(frozen=True)
class PairMatch:
    user_id: str
    first_is_user: bool  # True when the first persona given is the dialogue's "your persona"
    score: float


class DialogueIndex:
    """Look up the ConvAI2 dialogue held by a pair of personas."""

    def __init__(self, dialogues: Sequence[Dialogue]) -> None:
        self._pairs = {d.user_id: (words(d.persona), words(d.partner_persona)) for d in dialogues}
        self._by_word: dict[str, set[str]] = {}
        for user_id, (own, partner) in self._pairs.items():
            for word in own | partner:
                self._by_word.setdefault(word, set()).add(user_id)

    def match(self, first: Sequence[str], second: Sequence[str]) -> PairMatch | None:
        first_bag, second_bag = words(first), words(second)
        found: PairMatch | None = None
        for user_id in sorted(self._candidates(first_bag | second_bag)):
            own, partner = self._pairs[user_id]
            straight = min(jaccard(first_bag, own), jaccard(second_bag, partner))
            swapped = min(jaccard(first_bag, partner), jaccard(second_bag, own))
            score = max(straight, swapped)
            if score >= MIN_JACCARD and (found is None or score > found.score):
                found = PairMatch(user_id, straight >= swapped, score)
        return found

    def _candidates(self, bag: frozenset[str]) -> set[str]:
        counts: dict[str, int] = {}
        for word in bag:
            for user_id in self._by_word.get(word, ()):
                counts[user_id] = counts.get(user_id, 0) + 1
        # Only dialogues sharing many words can reach the threshold; keeps matching fast.
        floor = max(counts.values(), default=0) // 2
        return {user_id for user_id, count in counts.items() if count >= floor}
