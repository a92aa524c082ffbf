"""The attacks that found the privacy holes of issue 10, run against the real round loop.

Each attack uses only what the server legitimately receives; each must fail now.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from cli.main import main
from privacy.noise import SeededGaussian
from server.federated_run import run_federation
from server.metrics_store import MetricsStore
from server.privacy_budget import open_ledger
from server.run_settings import RunSettings
from simulation.audit.kill_resume import released_and_charged, server_process
from simulation.audit.privacy_holes import (
    CLIENTS,
    attack_settings,
    check_sums_hide_device_values,
    evaluated_truth,
    recorded_run,
    solve_per_device,
)
from simulation.in_process_transport import InProcessTransport
from simulation.populations import synthetic_population
from simulation.run_workspace import prepare_workspace


def test_the_attack_recovers_per_device_values_exactly_from_unnoised_sums(
    tmp_path, encoder_cache, monkeypatch
):
    """The attack works: without noise (epsilon inf, no privacy claimed) it is exact."""
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = attack_settings(math.inf)
    truth = evaluated_truth()

    recorder, _ = recorded_run(tmp_path / "run", settings)

    np.testing.assert_allclose(solve_per_device(recorder, settings), truth, atol=1e-9)


def test_secure_sums_under_a_budget_do_not_give_away_one_devices_values(
    tmp_path, encoder_cache, monkeypatch
):
    """The noise alone hides a value in [0, 1], and the attack does no better than it
    (the audit's check; ``fedpersona audit`` runs the same one)."""
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))

    result = check_sums_hide_device_values(tmp_path / "run")

    assert result.passed, result.detail


def test_plain_rounds_store_no_per_device_norm_and_only_noised_statistics(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = attack_settings(8.0).with_values(
        secure_aggregation=False, clients_per_round=3, rounds=2
    )
    workspace = prepare_workspace(tmp_path / "run", settings, synthetic_population(CLIENTS, seed=0))
    run_federation(
        settings,
        workspace,
        InProcessTransport(workspace, CLIENTS, SeededGaussian(np.random.default_rng(1))),
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=lambda _: None,
    )

    rows = MetricsStore(workspace.metrics_path).rounds()
    assert not [column for column in rows[0] if "norm_p" in column or "examples" in column]
    assert all(r["statistic_noise_std"] > 1.0 for r in rows)


# --- a released sum must never be missing from the ledger -----------------------------


@pytest.mark.parametrize(
    ("point", "mode"),
    [
        ("before-release", "secure"),
        ("after-release", "secure"),
        ("after-aggregate", "secure"),
        ("after-checkpoint", "secure"),
        ("after-release", "plain"),
    ],
)
def test_a_server_killed_anywhere_in_a_round_never_leaves_a_released_sum_unaccounted(
    tmp_path, point, mode
):
    root = tmp_path / "run"
    root.mkdir()

    killed = server_process(root, point, 2, mode)
    resumed = server_process(root, "none", 0, mode)

    assert killed == -9  # SIGKILL, mid-round
    assert resumed == 0
    released, charged = released_and_charged(root)
    assert charged == 3
    assert len(released) <= charged, f"released rounds {released}, ledger charged {charged}"


# --- delta ---------------------------------------------------------------------------


@pytest.mark.parametrize("sampling", ["poisson", "fixed_size"])
@pytest.mark.parametrize("delta", [0.9, 0.05])
def test_a_delta_at_or_above_one_over_n_is_refused_for_every_sampling(sampling, delta):
    with pytest.raises(ValueError, match="1/clients"):
        RunSettings(clients=20, clients_per_round=3, sampling=sampling, delta=delta)


def test_the_default_delta_is_a_tenth_of_one_over_n():
    for clients in (20, 100, 10_000):
        settings = RunSettings(clients=clients, clients_per_round=3)
        assert settings.target_delta == pytest.approx(1 / (10 * clients))
        assert open_ledger(settings, Path("/nonexistent/ledger.json")).settings.target_delta < (
            1 / clients
        )


def test_simulate_refuses_an_unsafe_delta_before_setting_anything_up(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["simulate", "--clients", "20", "--clients-per-round", "3", "--rounds", "3"]
    argv += ["--delta", "0.9", "--no-secure-aggregation", "--out", str(out)]

    try:
        code: int | str | None = main(argv)
    except SystemExit as stopped:
        code = stopped.code

    assert code not in (0, None)
    assert "1/clients" in str(code) + capsys.readouterr().err
    assert not out.exists()
