"""How many more rounds fit a budget: the ledger's answer, by the server's own stop rule."""

from __future__ import annotations

import logging

from privacy.calibration import Sampling, compute_epsilon, rounds_that_fit
from privacy.ledger import PrivacyLedger

POISSON = Sampling(kind="poisson", sampling_probability=0.1)
logging.getLogger("absl").setLevel(logging.ERROR)


def test_rounds_that_fit_is_the_last_count_within_the_budget() -> None:
    k = rounds_that_fit(POISSON, [1.0] * 5, 1.0, delta=1e-5, budget=3.0)

    for accountant in ("rdp", "pld"):
        within = compute_epsilon(POISSON, [1.0] * (5 + k), delta=1e-5, accountant=accountant)
        assert within <= 3.0
    after = [
        compute_epsilon(POISSON, [1.0] * (6 + k), delta=1e-5, accountant=a) for a in ("rdp", "pld")
    ]
    assert max(after) > 3.0


def test_no_rounds_fit_without_noise_or_past_the_budget() -> None:
    assert rounds_that_fit(POISSON, [], 0.0, delta=1e-5, budget=3.0) == 0
    assert rounds_that_fit(POISSON, [0.3] * 50, 0.3, delta=1e-5, budget=0.5) == 0


def test_the_projection_stops_at_its_cap() -> None:
    assert rounds_that_fit(POISSON, [], 50.0, delta=1e-5, budget=8.0, cap=64) == 64


def test_the_ledger_says_how_many_rounds_fit_and_its_stop_agrees():
    ledger = PrivacyLedger(
        sampling="poisson",
        sampling_probability=0.5,
        noise_multiplier=2.0,
        target_delta=1e-5,
        budget_epsilon=4.0,
    )
    ledger.record_round()

    left = ledger.rounds_left()

    assert left is not None
    assert left > 0
    for _ in range(left):
        assert not ledger.would_exceed_budget()
        ledger.record_round()
    assert ledger.would_exceed_budget()


def test_without_a_budget_no_rounds_are_projected():
    ledger = PrivacyLedger(
        sampling="poisson", sampling_probability=0.1, noise_multiplier=1.0, target_delta=1e-5
    )

    assert ledger.rounds_left() is None
