"""The lexical-overlap baseline: rank candidates by the words they share with the context.

A candidate's score is the summed inverse document frequency of the distinct words it
shares with the context (stop words removed), the classic IR baseline for response
selection. If this alone solved the generated task, the task would measure string
matching, not personalisation; the issue's bar is hits@1 <= 0.8 out of 20.

Three contexts for the synthetic task: the request alone; the request plus every earlier
user turn (all that a bag of words could remember); the request plus the user's persona
at that session written out as text (what a persona-aware bag of words could know).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from simulation.population.entities import SyntheticUser
from simulation.population.rank_metrics import RankMetrics, rank_metrics
from simulation.population.taxonomy import Taxonomy

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOPWORD_TEXT = """a about after again all also am an and any are as at be been being but by
    can could did do does doing for from had has have having he her here him his how i i'd i'll i'm
    i've if in into is it it's its just me more most my no nor not now of off on once only
    or other our out over own same she should so some such than that that's the their them
    then there these they this those through to too under until up very was we were what
    when where which while who why will with would you you'd you'll you're your yours"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class ContextMode(StrEnum):
    REQUEST = "request"
    HISTORY = "request + history"
    PERSONA = "request + persona"


@dataclass(frozen=True, slots=True)
class LexicalExample:
    """One ranking item as the baseline sees it: context words, candidates, the gold index."""

    context: frozenset[str]
    candidates: tuple[str, ...]
    gold: int


def tokenize(text: str) -> frozenset[str]:
    """Distinct lower-cased words, stop words removed."""
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in STOPWORDS)


class LexicalOverlapRanker:
    """IDF-weighted word overlap; IDF from the distinct candidate texts it is fitted on."""

    def __init__(self, documents: Iterable[str]) -> None:
        unique = set(documents)
        frequency: Counter[str] = Counter()
        for document in unique:
            frequency.update(tokenize(document))
        n = len(unique)
        # Smoothed IDF (as in scikit-learn): ln((1 + n) / (1 + df)) + 1, always positive.
        self.idf = {word: math.log((1 + n) / (1 + df)) + 1.0 for word, df in frequency.items()}
        self._tokens: dict[str, frozenset[str]] = {}

    def candidate_tokens(self, text: str) -> frozenset[str]:
        found = self._tokens.get(text)
        if found is None:
            found = self._tokens[text] = tokenize(text)
        return found

    def scores(self, context: frozenset[str], candidates: Sequence[str]) -> list[float]:
        idf = self.idf
        # fsum is exact, so equal word sets score equal whatever the set iteration order.
        return [
            math.fsum(idf.get(w, 1.0) for w in self.candidate_tokens(c) & context)
            for c in candidates
        ]

    def evaluate(self, examples: Iterable[LexicalExample]) -> RankMetrics:
        """hits@1 and MRR; ``examples`` is consumed once (a generator keeps memory flat)."""
        scores: list[list[float]] = []
        gold: list[int] = []
        for example in examples:
            scores.append(self.scores(example.context, example.candidates))
            gold.append(example.gold)
        return rank_metrics(np.array(scores).reshape(len(gold), -1), np.array(gold, dtype=np.int64))


def evaluate_synthetic(
    users: Sequence[SyntheticUser],
    taxonomy: Taxonomy,
    ranker: LexicalOverlapRanker,
    mode: ContextMode,
) -> tuple[RankMetrics, RankMetrics]:
    """Metrics over all ranking items, and over those whose attribute changed earlier."""
    scores: list[list[float]] = []
    gold: list[int] = []
    changed: list[bool] = []
    for example, stale in synthetic_examples(users, taxonomy, mode):
        scores.append(ranker.scores(example.context, example.candidates))
        gold.append(example.gold)
        changed.append(stale >= 0)
    matrix = np.array(scores).reshape(len(gold), -1)
    golds = np.array(gold, dtype=np.int64)
    mask = np.array(changed, dtype=bool)
    return rank_metrics(matrix, golds), rank_metrics(matrix[mask], golds[mask])


def synthetic_examples(
    users: Sequence[SyntheticUser], taxonomy: Taxonomy, mode: ContextMode
) -> Iterator[tuple[LexicalExample, int]]:
    """Each ranking turn as a baseline example, with its ``stale`` index (-1 if none)."""
    for user in users:
        history: set[str] = set()
        for session in user.sessions:
            persona: frozenset[str] = frozenset()
            if mode is ContextMode.PERSONA:
                persona = tokenize(" ".join(_persona_text(user, session.index, taxonomy)))
            for turn in session.turns:
                words = tokenize(turn.text)
                if turn.ranking is not None:
                    context = words
                    if mode is ContextMode.HISTORY:
                        context = words | history
                    elif mode is ContextMode.PERSONA:
                        context = words | persona
                    example = LexicalExample(context, turn.ranking.candidates, turn.ranking.gold)
                    yield example, turn.ranking.stale
                history |= words


def _persona_text(user: SyntheticUser, session: int, taxonomy: Taxonomy) -> list[str]:
    """The persona at ``session`` as "label value" phrases."""
    return [
        f"{taxonomy.leaf(a.category, a.name).label} {a.value}" for a in user.attributes_at(session)
    ]
