"""Budget status and rounds left, checked against the ledger's own arithmetic."""

from __future__ import annotations

import dp_accounting  # type: ignore[import-untyped]
import pytest
from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

from dashboard.budget import budget_status, format_epsilon, run_settings_of
from dashboard.metrics_reader import RunData, read_run
from privacy.calibration import compute_epsilon
from server.privacy_budget import sampling_of
from tests.dashboard.conftest import Stores


def _run(path: object) -> RunData:
    run = read_run(path)  # type: ignore[arg-type]
    assert isinstance(run, RunData)
    return run


def test_the_stored_epsilon_is_what_the_ledger_arithmetic_gives(stores: Stores) -> None:
    run = _run(stores.small)
    zs = [r["noise_multiplier"] for r in run.rounds]
    last = run.rounds[-1]

    spent = compute_epsilon(sampling_of(run_settings_of(run.settings)), zs, delta=last["delta"])

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


def test_an_unamplified_run_spends_k_gaussian_events_and_says_so(stores: Stores) -> None:
    run = _run(stores.secure)
    last = run.rounds[-1]

    status = budget_status(run.settings, run.rounds, run.state)

    # Each device joins at most 4 rounds (4 rounds of 10 of 12 devices): four Gaussian
    # events at z = 3.5, pinned against dp-accounting itself.
    tracker = rdp_privacy_accountant.RdpAccountant()
    tracker.compose(dp_accounting.GaussianDpEvent(3.5), 4)
    assert status.epsilon_rdp == pytest.approx(tracker.get_epsilon(last["delta"]), rel=1e-12)
    assert status.epsilon_pld is not None
    assert not status.amplified
    assert status.participation_cap == 4
    assert "holds however devices are chosen" in status.assumption
    assert run.accounting_assumption == status.assumption


def test_an_amplified_run_says_it_rests_on_random_sampling(stores: Stores) -> None:
    run = _run(stores.small)

    status = budget_status(run.settings, run.rounds, run.state)

    assert status.amplified
    assert status.assumption.startswith("amplified by Poisson sampling (q = 0.5)")
