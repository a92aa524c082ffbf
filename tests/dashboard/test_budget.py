"""Budget status and rounds left, checked against the ledger's own arithmetic."""

from __future__ import annotations

import pytest

from dashboard.budget import budget_status, format_epsilon, rounds_that_fit, sampling_of
from dashboard.store_reader import RunData, read_run
from privacy.calibration import Sampling, compute_epsilon
from tests.dashboard.conftest import Stores

POISSON = Sampling(kind="poisson", sampling_probability=0.1)


def _run(path: object) -> RunData:
    run = read_run(path)  # type: ignore[arg-type]
    assert isinstance(run, RunData)
    return run


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


def test_the_stored_epsilon_is_what_the_ledger_arithmetic_gives(stores: Stores) -> None:
    run = _run(stores.small)
    zs = [r["noise_multiplier"] for r in run.rounds]
    last = run.rounds[-1]

    spent = compute_epsilon(sampling_of(run.settings), zs, delta=last["delta"])

    assert spent == pytest.approx(last["epsilon_rdp"])


def test_a_run_with_budget_left_projects_the_rounds_that_still_fit(stores: Stores) -> None:
    run = _run(stores.cohort)

    status = budget_status(run.settings, run.rounds, run.state)

    assert status.rounds_done == 4
    assert status.rounds_left == 3
    assert status.epsilon_pld is None  # fixed-size sampling: RDP only
    assert status.spent == run.rounds[-1]["epsilon_rdp"] < 8.0
    assert not status.exhausted


def test_an_exhausted_run_has_no_rounds_left(stores: Stores) -> None:
    run = _run(stores.exhausted)

    status = budget_status(run.settings, run.rounds, run.state)

    assert status.exhausted
    assert status.rounds_left == 0
    assert status.spent <= 2.0


def test_without_a_budget_nothing_is_projected() -> None:
    settings = {"epsilon": None, "noise_multiplier": 0.0, "clients": 10, "clients_per_round": 5}
    rows = [{"epsilon_rdp": float("inf"), "epsilon_pld": float("inf"), "delta": 0.01}]

    status = budget_status(settings, rows, "completed")

    assert status.budget is None
    assert status.rounds_left is None
    assert format_epsilon(status.spent) == "inf"
    assert status.fraction_spent is None
