"""The lexical-overlap baseline and the ranking metrics it is scored with."""

from __future__ import annotations

import numpy as np
import pytest

from simulation.population.lexical import (
    ContextMode,
    LexicalExample,
    LexicalOverlapRanker,
    evaluate_synthetic,
    tokenize,
)
from simulation.population.rank_metrics import rank_metrics
from simulation.population.ranking import iter_rankings
from simulation.population.taxonomy import load_taxonomy
from tests.simulation.factories import population


def test_hits_at_1_and_mrr_match_hand_computed_values():
    scores = np.array([[3.0, 1.0, 2.0], [1.0, 3.0, 2.0], [0.0, 1.0, 2.0]])
    gold = np.array([0, 2, 0])

    metrics = rank_metrics(scores, gold)

    assert metrics.examples == 3
    assert metrics.hits_at_1 == pytest.approx(1 / 3)
    assert metrics.mrr == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_ties_count_as_a_random_tie_break_would_on_average():
    scores = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    gold = np.array([0, 2])

    metrics = rank_metrics(scores, gold)

    assert metrics.hits_at_1 == pytest.approx((1 / 2 + 1 / 3) / 2)
    assert metrics.mrr == pytest.approx(((1 + 1 / 2) / 2 + (1 + 1 / 2 + 1 / 3) / 3) / 2)


def test_the_baseline_picks_the_candidate_sharing_the_rarest_words():
    candidates = ("a walk in the park", "green curry with rice", "a walk to the shops")
    ranker = LexicalOverlapRanker(candidates)
    example = LexicalExample(tokenize("I had green curry yesterday"), candidates, gold=1)

    metrics = ranker.evaluate([example])

    assert metrics.hits_at_1 == 1.0
    assert "the" not in tokenize("The park")


@pytest.mark.parametrize("mode", list(ContextMode))
def test_lexical_baseline_stays_at_or_below_0_8_hits_at_1_on_generated_data(mode):
    users = population()
    documents = [c for item in iter_rankings(users) for c in item.ranking.candidates]
    ranker = LexicalOverlapRanker(documents)

    every, _ = evaluate_synthetic(users, load_taxonomy(), ranker, mode)

    assert every.examples > 500
    assert every.hits_at_1 <= 0.8
    assert every.hits_at_1 > 1 / 20 * 0.5  # it does rank: not all ties, not inverted
