"""The head's persona input with stance: an avoided thing enters as a *negated* vector.

The head (models.reranking_head) compares candidates with persona vectors: its prior adds
max_j cos(r, p_j). For a fact that states an avoidance ("I avoid spicy food", parsed by
models.stance) the vector given to the head is -e(object) (e the sentence encoder, unit
length), once per avoided item (models.stance.object_items: "dairy" adds milk, cheese,
...), so cos(r, p_j) = -cos(r, e(object)): a candidate that matches what the person avoids
now scores *lower*, through the same four input tensors, the same ONNX graph and the same
federated weights. A fact without an avoidance enters as before, its own embedding (so a
conversation persona, almost all likings and plain facts, changes only where a fact
avoids something).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from models.encoded import EmbedFn, EncodedExamples, encode
from models.ranking_task import RankingExample
from models.stance import object_items, parse_stance

Array = npt.NDArray[np.float32]
# Avoided items per fact given to the head: a diet rule lists about ten.
MAX_ITEMS_PER_FACT = 12


def signed_texts(fact: str) -> list[tuple[str, float]]:
    """(text, sign) pairs that stand for ``fact`` in the head's persona input."""
    avoided = [
        item
        for clause in parse_stance(fact)
        if clause.stance.negative
        for item in object_items(clause.object)
    ]
    if not avoided:
        return [(fact, 1.0)]
    return [(item, -1.0) for item in list(dict.fromkeys(avoided))[:MAX_ITEMS_PER_FACT]]


def signed_persona(facts: Sequence[str], embed: EmbedFn) -> Array:
    """(P', D) persona vectors for ``facts`` (P' >= 0 rows; avoided items negated)."""
    pairs = [pair for fact in facts for pair in signed_texts(fact)]
    if not pairs:
        return np.zeros((0, 0), np.float32)
    vectors = np.asarray(embed([text for text, _ in pairs]), np.float32)
    return vectors * np.asarray([sign for _, sign in pairs], np.float32)[:, None]


def encode_with_stance(
    examples: Sequence[RankingExample],
    embed: EmbedFn,
    *,
    dimension: int,
    labels: Sequence[int] | None = None,
    signs: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
) -> EncodedExamples:
    """models.encoded.encode, with each row's persona given as its signed vectors."""
    return encode(
        examples,
        embed,
        dimension=dimension,
        labels=labels,
        signs=signs,
        weights=weights,
        persona_vectors=signed_texts,
    )
