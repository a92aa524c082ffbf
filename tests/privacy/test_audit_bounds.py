"""The audit's bound arithmetic, pinned against closed forms and scipy."""

from __future__ import annotations

import math

import pytest
from scipy import stats  # type: ignore[import-untyped]

from privacy.audit_bounds import (
    clopper_pearson_lower,
    clopper_pearson_upper,
    epsilon_from_rates,
    epsilon_interval,
    one_run_epsilon_lower_bound,
    one_run_p_value,
)


def test_clopper_pearson_with_no_successes_is_the_closed_form():
    # P[Bin(n, p) = 0] = (1 - p)^n = alpha  =>  p = 1 - alpha^(1/n): the "rule of three".
    assert clopper_pearson_upper(0, 1000, 0.05) == pytest.approx(1 - 0.05 ** (1 / 1000), rel=1e-12)
    assert clopper_pearson_upper(0, 1000, 0.05) == pytest.approx(0.0029912, abs=1e-7)


def test_clopper_pearson_limits_are_the_binomial_tail_inversions():
    upper, lower = clopper_pearson_upper(7, 50, 0.025), clopper_pearson_lower(7, 50, 0.025)

    assert stats.binom.cdf(7, 50, upper) == pytest.approx(0.025, rel=1e-9)
    assert stats.binom.sf(6, 50, lower) == pytest.approx(0.025, rel=1e-9)
    assert lower < 7 / 50 < upper


def test_clopper_pearson_limits_at_the_ends():
    assert clopper_pearson_upper(10, 10, 0.05) == 1.0
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0


def test_epsilon_from_rates_is_the_hypothesis_testing_bound_in_both_directions():
    assert epsilon_from_rates(0.1, 0.2, 0.0) == pytest.approx(math.log(0.8 / 0.1))
    assert epsilon_from_rates(0.2, 0.1, 0.0) == pytest.approx(math.log(0.8 / 0.1))
    assert epsilon_from_rates(0.1, 0.2, 0.05) == pytest.approx(math.log(0.75 / 0.1))
    assert epsilon_from_rates(0.5, 0.5, 0.0) == 0.0  # a coin flip proves nothing
    assert epsilon_from_rates(0.0, 0.3, 1e-5) == math.inf


def test_a_perfect_attack_over_a_thousand_runs_proves_at_most_about_five_point_six():
    # Both rates 0 of 1000, each at its 97.5% upper limit 1 - 0.025^(1/1000).
    limit = 1 - 0.025 ** (1 / 1000)
    interval = epsilon_interval(
        false_positives=0, negatives=1000, false_negatives=0, positives=1000, delta=1e-5
    )

    assert interval.lower == pytest.approx(math.log((1 - 1e-5 - limit) / limit), rel=1e-9)
    assert interval.lower == pytest.approx(5.6006, abs=1e-4)
    assert interval.point == interval.upper == math.inf
    assert interval.confidence == 0.95


def test_the_interval_is_ordered_and_a_useless_attack_proves_nothing():
    mixed = epsilon_interval(
        false_positives=30, negatives=500, false_negatives=40, positives=500, delta=1e-5
    )
    useless = epsilon_interval(
        false_positives=250, negatives=500, false_negatives=250, positives=500, delta=1e-5
    )

    assert 0 < mixed.lower < mixed.point < mixed.upper
    assert useless.lower == 0.0


@pytest.mark.parametrize("guesses", [10, 100, 1000])
def test_one_run_bound_with_every_guess_right_and_no_delta_is_the_closed_form(guesses):
    # P[Bin(r, p) >= r] = p^r = alpha  =>  p = alpha^(1/r), eps = logit(p) (Steinke et al.).
    p = 0.05 ** (1 / guesses)
    expected = math.log(p / (1 - p))

    bound = one_run_epsilon_lower_bound(canaries=1000, guesses=guesses, correct=guesses, delta=0)

    assert bound == pytest.approx(expected, rel=1e-6)


def test_one_run_delta_only_weakens_the_bound_and_chance_proves_nothing():
    pure = one_run_epsilon_lower_bound(canaries=1000, guesses=100, correct=100, delta=0.0)
    approximate = one_run_epsilon_lower_bound(canaries=1000, guesses=100, correct=100, delta=1e-5)
    chance = one_run_epsilon_lower_bound(canaries=1000, guesses=100, correct=50, delta=1e-5)

    assert 0 < approximate < pure
    assert chance == 0.0


def test_one_run_p_value_without_delta_is_the_binomial_tail():
    p = math.exp(1.0) / (1 + math.exp(1.0))

    value = one_run_p_value(canaries=200, guesses=40, correct=35, epsilon=1.0, delta=0.0)

    assert value == pytest.approx(stats.binom.sf(34, 40, p), rel=1e-12)


@pytest.mark.parametrize(
    ("successes", "trials", "alpha"), [(-1, 10, 0.05), (11, 10, 0.05), (1, 10, 1.5)]
)
def test_bad_counts_and_levels_are_refused_by_name(successes, trials, alpha):
    with pytest.raises(ValueError, match=r"successes|alpha"):
        clopper_pearson_upper(successes, trials, alpha)
