"""The held-out measure's interval: a normal 95% interval on per-example hits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from server.held_out import score_of


def test_the_interval_is_196_standard_errors():
    hits = np.array([1.0, 0.0] * 50)

    score = score_of(hits)

    assert score.hits_at_1 == 0.5
    assert score.ci95 == pytest.approx(1.959963984540054 * np.std(hits, ddof=1) / 10)
    assert score.examples == 100


def test_no_examples_give_no_score():
    score = score_of(np.array([]))

    assert math.isnan(score.hits_at_1)
    assert score.examples == 0
