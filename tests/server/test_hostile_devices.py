"""Hostile and faulty devices in a real Flower simulation, plain and SecAgg+ rounds.

Each misbehaviour either leaves the round going on without the device or refuses the
round, with the reason in the run's log and counted in the round's metrics row; the head
is what the honest devices alone would have made of it (or unchanged); the ledger charges
every round that was asked of devices (released or not: see docs/privacy.md). The devices
are made hostile by a test-only ClientApp (``tests.server.hostile_devices``).
"""

from __future__ import annotations

import json
import logging
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flwr.simulation import run_simulation

from models.weights import flatten, get_weights, load_checkpoint, unflatten
from privacy.secure_aggregation import PAYLOAD_RANGE, quantization_range
from server.federated_run import initial_head
from server.metrics_store import MetricsStore
from server.run_settings import RunSettings
from simulation.populations import synthetic_population
from simulation.run_workspace import RUN_DIR_ENV, Workspace, prepare_workspace
from simulation.server_app import app as server_app
from simulation.simulate import BACKEND_CONFIG
from tests.conftest import RAY, REPO_ROOT
from tests.server.device_updates import summed_updates
from tests.server.hostile_devices import KEEP_ENV, PLAN_ENV, hostile_app

# Starts Ray: one Ray simulation at a time (tests/conftest.py).
pytestmark = RAY


def _settings(clients: int, rounds: int, secure: bool) -> RunSettings:
    return RunSettings(
        population="synthetic",
        clients=clients,
        rounds=rounds,
        clients_per_round=clients,
        sampling="fixed_size",
        epsilon=math.inf,  # no noise: the head can be checked exactly
        clipping_norm=0.5,
        local_epochs=1,
        learning_rate=0.05,
        start_head="untrained",  # every parameter trains: a step large enough to check
        secure_aggregation=secure,
        dropout_tolerance=0.2,
        secure_noise=False,
    )


def _run_hostile(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: RunSettings,
    plan: dict[int, dict[int, str]],
) -> Workspace:
    kept = tmp_path / "kept"
    kept.mkdir()
    for name, value in (
        (RUN_DIR_ENV, str(tmp_path / "run")),
        ("PYTHONPATH", str(REPO_ROOT)),
        (PLAN_ENV, json.dumps(plan)),
        (KEEP_ENV, str(kept)),
    ):
        monkeypatch.setenv(name, value)
    population = synthetic_population(settings.clients, seed=0)
    workspace = prepare_workspace(tmp_path / "run", settings, population)
    logging.getLogger("absl").setLevel(logging.ERROR)
    run_simulation(
        server_app,
        hostile_app(),
        num_supernodes=settings.clients,
        backend_config=BACKEND_CONFIG,
    )
    return workspace


def _head(workspace: Workspace) -> np.ndarray:
    return flatten(get_weights(load_checkpoint(workspace.checkpoint_path)[0]))


def _counts(workspace: Workspace) -> list[tuple[Any, ...]]:
    rows = MetricsStore(workspace.metrics_path).rounds()
    keys = ("clients_completed", "clients_rejected", "clients_dropped")
    return [tuple(row[key] for key in keys) for row in rows]


def _charged(workspace: Workspace) -> int:
    ledger = json.loads(workspace.ledger_path.read_text())
    return sum(count for _, count in ledger["rounds"])


PLAIN_PLAN = {
    0: {1: "nan", 2: "nan"},
    1: {1: "wrong-shape", 2: "wrong-shape"},
    2: {1: "huge", 2: "huge"},
    3: {2: "replay"},  # honest in round 1, resends that reply in round 2
    4: {1: "other-run", 2: "other-run"},
    6: {1: "crash", 2: "crash"},
}


def test_plain_rounds_turn_hostile_devices_away_and_apply_only_honest_releases(
    tmp_path, encoder_cache, monkeypatch, capfd
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = _settings(clients=7, rounds=2, secure=False)
    initial = get_weights(initial_head(settings))

    workspace = _run_hostile(tmp_path, monkeypatch, settings, PLAIN_PLAN)

    log = capfd.readouterr().out
    # Round 1: devices 3 and 5 accepted; 0, 1, 2, 4 rejected; 6 dropped. Round 2: 3 too.
    assert _counts(workspace) == [(2, 4, 1), (1, 5, 1)]
    for reason in (
        "NaN",
        "wrong size",
        "exceeds sanity bound",
        "bound to run 'another-run' round 1",
        "round 1, not run",  # device 3's replay in round 2
    ):
        assert reason in log, f"no logged reason {reason!r}"
    assert _charged(workspace) == 2
    # Each round's head is what the honest releases alone make of it (device 5 in round 2).
    rate, n = settings.server_learning_rate, settings.clients_per_round
    after_one = flatten(initial) + rate * summed_updates(workspace, settings, [3, 5], initial) / n
    weights_one = unflatten(after_one, initial)
    after_two = after_one + rate * (
        summed_updates(workspace, settings, [5], weights_one, round_number=2) / n
    )
    final = _head(workspace)
    np.testing.assert_allclose(final, after_two, rtol=0, atol=1e-5)
    assert np.abs(after_two - after_one).max() > 1e-4  # round 2 moved it, far beyond atol


SECURE_PLAN = {
    0: {1: "huge-finite"},
    4: {1: "crash"},  # drops out mid-round, after the key exchange
    1: {2: "replay"},  # resends its round-1 masked vector
    2: {3: "nan"},
    3: {4: "wrong-shape"},
}


def test_secagg_rounds_refuse_a_sum_spoiled_by_one_device_and_go_on_without_a_malformed_one(
    tmp_path, encoder_cache, monkeypatch, capfd
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = _settings(clients=5, rounds=4, secure=True)
    initial = get_weights(initial_head(settings))

    workspace = _run_hostile(tmp_path, monkeypatch, settings, SECURE_PLAN)

    log = capfd.readouterr().out
    # Rounds 1-3 refused as a whole (round 1 also lost device 4); round 4 went on without
    # device 3's malformed masked vector.
    assert _counts(workspace) == [(0, 1, 1), (0, 1, 0), (0, 1, 0), (4, 1, 0)]
    # The huge update, the replayed masked vector (masks of another round unmask to noise
    # modulo 2^32) and the NaN (quantised to an extreme value) all fail the range check.
    for round_number in (1, 2, 3):
        refused = re.search(
            rf"round {round_number}: rejected the secure sum: update norm \S+ "
            r"exceeds the honest bound",
            log,
        )
        assert refused is not None, f"round {round_number} was not refused by the range check"
    assert "round 4: rejected node " in log
    assert "a masked vector of shapes" in log
    assert _charged(workspace) == 4  # each sum was revealed to the server: all charged
    # Rounds 1-3 left the head alone; round 4 applied the four honest devices' sum.
    expected = flatten(initial) + settings.server_learning_rate * (
        summed_updates(workspace, settings, [0, 1, 2, 4], initial, round_number=4)
        / settings.clients_per_round
    )
    step = 2 * PAYLOAD_RANGE / quantization_range(settings.clients)
    final = _head(workspace)
    tolerance = settings.server_learning_rate * 4 * step / settings.clients
    np.testing.assert_allclose(final, expected, rtol=0, atol=tolerance)
    assert np.abs(final - flatten(initial)).max() > 0.01  # round 4 really moved the head
