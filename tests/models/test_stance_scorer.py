"""The parsed-stance scorer (models.stance_scorer) on real MiniLM embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from models.stance import Stance, StanceClause
from models.stance_scorer import (
    DEFAULT_WEIGHTS,
    FEATURES,
    StanceRow,
    fit_weights,
    stance_features,
    stance_scores,
)

ROWS = [
    StanceRow(
        "Which bakery should I visit this weekend?",
        ("I keep a strict dairy-free diet",),
        (
            "A patisserie known for its butter croissants and cheesecake",
            "A bakery famous for dairy-free cakes and fruit tarts",
            "A cafe serving cream puffs and milkshakes",
        ),
    ),
    StanceRow(
        "Any game recommendations for the weekend?",
        ("I can't stand horror games; I prefer cosy farming games",),
        (
            "A survival horror game full of jump scares",
            "A relaxing farming game where you grow crops",
            "A zombie horror shooter",
        ),
    ),
]


def test_the_respecting_candidate_scores_highest(onnx_embedder) -> None:
    features = stance_features(ROWS, onnx_embedder.embed)
    assert features.shape == (2, 3, len(FEATURES))
    assert stance_scores(features).argmax(axis=1).tolist() == [1, 1]
    negated = FEATURES.index("avoided_negated")
    assert features[0, 1, negated] == 1.0  # "dairy-free" names dairy only under a negation
    assert features[0, 0, negated] == 0.0


def test_fit_weights_keeps_the_signs_that_separate_and_rejects_no_rows(onnx_embedder) -> None:
    features = stance_features(ROWS, onnx_embedder.embed)
    labels = np.asarray([1, 1], np.int64)
    weights = fit_weights(features, labels, steps=50)
    assert stance_scores(features, weights).argmax(axis=1).tolist() == [1, 1]
    assert weights.shape == DEFAULT_WEIGHTS.shape
    with pytest.raises(ValueError, match="no rows"):
        fit_weights(features[:0], labels[:0])


def test_a_row_uses_the_stances_it_was_given_instead_of_parsing() -> None:
    stored = ((StanceClause(Stance.AVOIDS, "nightlife"),),)
    given = StanceRow("Which hotel?", ("chose: a quiet spa",), ("a", "b"), stored)
    parsed = StanceRow("Which hotel?", ("I avoid loud bars",), ("a", "b"))

    assert given.stances() == list(stored)
    assert parsed.stances() == [(StanceClause(Stance.AVOIDS, "loud bars"),)]
    with pytest.raises(ValueError, match="2 stances for 1 facts"):
        StanceRow("q", ("f",), ("a",), stored * 2).stances()
