"""The monitoring statistics reach the server only as noised fleet aggregates."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from privacy.device_release import release, statistic_noise_std
from privacy.noise import SeededGaussian
from server.dp_fedavg import ClientReport, aggregate_round
from server.federated_run import run_federation
from server.metrics_store import MetricsStore, RoundRow
from server.reference_facts import common_facts
from server.run_settings import RunSettings
from simulation.in_process_transport import InProcessTransport
from simulation.populations import synthetic_population
from simulation.run_workspace import prepare_workspace

DISTINCT = (0.123457, 0.234568, 0.345679)  # each device's own coverage, easy to look for


def _reports() -> list[ClientReport]:
    return [
        ClientReport(
            release(
                np.zeros(4),
                0.5,
                train_loss=1.0,
                hits=0.0,
                evaluated=0,
                monitoring={"persona_coverage": value, "prompted": 1.0, "justification": value},
            ).payload
        )
        for value in DISTINCT
    ]


def _aggregate(noise_multiplier: float, seed: int) -> dict[str, float | None]:
    return aggregate_round(
        np.zeros(4),
        _reports(),
        clipping_norm=0.5,
        noise_multiplier=noise_multiplier,
        denominator=3,
        noise=SeededGaussian(np.random.default_rng(seed)),
    ).metrics


def test_without_noise_the_round_gives_the_exact_fleet_means():
    metrics = _aggregate(0.0, seed=0)

    assert metrics["persona_coverage"] == pytest.approx(np.mean(DISTINCT))
    assert metrics["prompt_justification"] == pytest.approx(np.mean(DISTINCT))
    assert metrics["prompted_sum"] == pytest.approx(3.0)


def test_with_noise_no_device_value_and_not_the_exact_mean_is_released():
    released = [_aggregate(0.9, seed=s) for s in range(20)]

    coverage = [m["persona_coverage"] for m in released]
    assert all(
        m["statistic_noise_std"] == pytest.approx(statistic_noise_std(0.45, 0.5)) for m in released
    )
    for value in (*DISTINCT, float(np.mean(DISTINCT))):
        assert not any(c is not None and abs(c - value) < 1e-6 for c in coverage)
    # Noise of std ~9.4 on a sum over 3 devices: the mean is mostly clamped to 0 or 1.
    assert len({c for c in coverage if c is not None}) > 1


def test_common_facts_are_those_of_at_least_two_and_min_share_of_the_reference():
    personas = [["Cuisine: Thai", "music: jazz"], ["cuisine:  thai"], ["music: rock"], ["x"]]

    assert common_facts(personas, min_share=0.25) == ("cuisine: thai",)
    assert common_facts(personas, min_share=0.75) == ()
    assert common_facts([]) == ()
    with pytest.raises(ValueError, match="min_share must be within \\(0, 1\\], got 0"):
        common_facts(personas, min_share=0)


def test_a_run_records_monitoring_aggregates_and_nothing_per_device(
    tmp_path: Path, encoder_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = RunSettings(
        population="synthetic",
        clients=12,
        clients_per_round=10,
        sampling="fixed_size",
        rounds=2,
        epsilon=8.0,
        noise_multiplier=3.5,  # 2 rounds fit in epsilon 8
        local_epochs=1,
        secure_aggregation=False,
        secure_noise=False,
    )
    population = synthetic_population(settings.clients, seed=0)
    workspace = prepare_workspace(tmp_path / "run", settings, population)
    reference = common_facts({e.user_id: e.persona for e in population.unseen_users}.values())
    transport = InProcessTransport(
        workspace, settings.clients, SeededGaussian(np.random.default_rng(1))
    )

    run_federation(
        settings,
        workspace,
        transport,
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=lambda _: None,
        reference_facts=reference,
    )

    with sqlite3.connect(workspace.metrics_path) as conn:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(rounds)")]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert columns == [f.name for f in fields(RoundRow)]  # one row per round, no device
    assert tables == {"rounds", "run", "audit"}  # audit: the empirical audits, none here
    store = MetricsStore(workspace.metrics_path)
    rows = store.round_rows()
    store.close()
    assert len(rows) == 2
    for row in rows:
        for value in (row.persona_coverage, row.persona_depth, row.persona_uniqueness):
            assert value is not None
            assert 0.0 <= value <= 1.0
        assert row.prompted_sum is not None
        assert row.statistic_noise_std == pytest.approx(statistic_noise_std(3.5 * 0.5, 0.5))
