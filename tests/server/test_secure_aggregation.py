"""SecAgg+ rounds in a real Flower simulation: the server gets the sum and nothing else.

The devices' round code is also run directly here, so the unmasked sum the server applied
can be checked against the updates the devices computed.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import Mod
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import WorkflowState
from flwr.simulation import run_simulation

from models.reply_training import released_size
from models.weights import flatten, get_weights, load_checkpoint
from privacy.secure_aggregation import PAYLOAD_RANGE, quantization_range
from server.federated_run import initial_head
from server.metrics_store import MetricsStore
from server.privacy_budget import open_ledger
from server.run_settings import RunSettings
from server.secure_aggregation import GuardedSecAggPlusWorkflow, protocol_parameters
from simulation.client_app import rounds as device_rounds
from simulation.populations import synthetic_population
from simulation.run_workspace import RUN_DIR_ENV, Workspace, prepare_workspace
from simulation.server_app import app as server_app
from simulation.simulate import BACKEND_CONFIG
from tests.conftest import RAY, REPO_ROOT
from tests.server.device_updates import summed_updates
from tests.server.message_capture import record_replies

CLIENTS = 5
# What Flower's legacy FitRes adds around the masked vector: a status, no metrics, weight 1.
FIT_RESULT_ENVELOPE = {"fitres.metrics": {}, "fitres.status": {"code": 0, "message": "Success"}}
FIT_RESULT_WEIGHT = {"fitres.num_examples": {"num_examples": 1}}


def _settings(**changes: Any) -> RunSettings:
    return RunSettings(
        population="synthetic",
        clients=CLIENTS,
        rounds=1,
        clients_per_round=CLIENTS,
        sampling="fixed_size",
        epsilon=math.inf,
        clipping_norm=0.5,
        local_epochs=1,
        learning_rate=0.05,  # a step large enough to see beside the quantisation error
        # The untrained head, all of whose parameters train: a step that big everywhere.
        # (Secure aggregation sums whatever vector the devices send; the public head's
        # term-only updates are checked by test_wire_capture and test_federated_run.)
        start_head="untrained",
        secure_aggregation=True,
        dropout_tolerance=0.2,  # 4 of 5 devices must contribute
        secure_noise=False,
    ).with_values(**changes)


def _prepare(
    tmp_path: Path, settings: RunSettings, monkeypatch: pytest.MonkeyPatch
) -> tuple[Workspace, Path]:
    """The run folder and the folder the devices' replies are captured in."""
    capture = tmp_path / "captured"
    capture.mkdir()
    for name, value in (
        ("FEDPERSONA_CAPTURE_DIR", str(capture)),
        (RUN_DIR_ENV, str(tmp_path / "run")),
        ("PYTHONPATH", str(REPO_ROOT)),
    ):
        monkeypatch.setenv(name, value)
    workspace = prepare_workspace(tmp_path / "run", settings, synthetic_population(CLIENTS, seed=0))
    return workspace, capture


def _drop(workspace: Workspace, devices: list[int]) -> None:
    for device in devices:  # its store gone, the device fails mid-round (after key setup)
        for path in workspace.devices.store_path(device).parent.glob(
            workspace.devices.store_path(device).name + "*"
        ):
            path.unlink()


def _run(capture_replies: bool = True) -> None:
    mods: list[Mod] | None = (
        [record_replies, device_rounds.route_round] if capture_replies else None
    )
    app = ClientApp(client_fn=device_rounds.secure_round_client, mods=mods)
    logging.getLogger("absl").setLevel(logging.ERROR)
    run_simulation(server_app, app, num_supernodes=CLIENTS, backend_config=BACKEND_CONFIG)


def _device_updates(workspace: Workspace, settings: RunSettings, devices: list[int]) -> np.ndarray:
    """The updates the devices compute from the initial head in round 1, summed."""
    initial = get_weights(initial_head(settings))
    return summed_updates(workspace, settings, devices, initial)


@RAY
def test_the_server_applies_the_unmasked_sum_of_the_surviving_devices_updates(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = _settings()
    workspace, _ = _prepare(tmp_path, settings, monkeypatch)
    expected_sum = _device_updates(workspace, settings, [0, 1, 2, 4])
    _drop(workspace, [3])
    initial = flatten(get_weights(initial_head(settings)))

    _run()

    final = flatten(get_weights(load_checkpoint(workspace.checkpoint_path)[0]))
    expected = initial + settings.server_learning_rate * expected_sum / CLIENTS
    # Stochastic rounding moves each device's coordinate by less than one quantisation step.
    step = 2 * PAYLOAD_RANGE / quantization_range(CLIENTS)
    tolerance = 4 * step / CLIENTS
    np.testing.assert_allclose(final, expected, rtol=0, atol=tolerance)
    assert np.abs(final - initial).max() > 20 * tolerance  # the round really moved the head
    (row,) = MetricsStore(workspace.metrics_path).rounds()
    assert (row["clients_sampled"], row["clients_completed"], row["clients_dropped"]) == (5, 4, 1)
    assert row["train_loss"] is not None
    assert row["statistic_noise_std"] is not None


@RAY
def test_nothing_a_device_sends_under_secure_aggregation_is_readable_alone(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = _settings(epsilon=10.0, delta=1e-3)
    workspace, capture = _prepare(tmp_path, settings, monkeypatch)

    _run()

    entries = [json.loads(p.read_text()) for p in sorted(capture.iterdir())]
    assert len(entries) == 4 * CLIENTS  # setup, share keys, masked vector, unmask
    masked = [e for e in entries if "masked_params" in e["configs"]["secaggplus_configs"]]
    assert len(masked) == CLIENTS
    population = synthetic_population(CLIENTS, seed=0)
    secrets = {str(value) for c in population.clients for _, _, value, _ in c.persona}
    for entry in entries:
        assert all(not arrays for arrays in entry["arrays"].values())  # no update in the clear
        assert entry["metrics"] in ({}, FIT_RESULT_WEIGHT)  # no scalar in the clear
        legacy = {k: v for k, v in entry["configs"].items() if k != "secaggplus_configs"}
        assert legacy in ({}, FIT_RESULT_ENVELOPE)
        serialised = json.dumps(entry)
        assert not any(s in serialised for s in secrets if len(s) > 6)
    size = released_size(initial_head(settings).config)
    for entry in masked:  # the weight factor, then one masked integer per coordinate
        _factor, vector = entry["configs"]["secaggplus_configs"]["masked_params"]
        assert len(bytes.fromhex(vector)) > 4 * size
    (row,) = MetricsStore(workspace.metrics_path).rounds()
    assert row["clients_completed"] == CLIENTS
    assert row["epsilon_rdp"] > 0


@RAY
def test_a_round_with_fewer_contributors_than_the_noise_was_sized_for_is_never_unmasked(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = _settings(epsilon=10.0, delta=1e-3)
    workspace, _ = _prepare(tmp_path, settings, monkeypatch)
    _drop(workspace, [1, 3])
    initial = flatten(get_weights(initial_head(settings)))

    _run(capture_replies=False)

    final = flatten(get_weights(load_checkpoint(workspace.checkpoint_path)[0]))
    np.testing.assert_array_equal(final, initial)
    (row,) = MetricsStore(workspace.metrics_path).rounds()
    assert (row["clients_completed"], row["clients_dropped"]) == (0, CLIENTS)
    # Halted before unmasking: nothing was released, so its charge was withdrawn.
    assert row["epsilon_rdp"] == 0.0
    ledger = open_ledger(settings, workspace.ledger_path)
    assert ledger.rounds == 1
    assert list(ledger.withdrawn) == [1]


def test_the_guard_refuses_to_unmask_below_the_minimum_of_contributors(monkeypatch):
    monkeypatch.setattr(
        SecAggPlusWorkflow, "collect_masked_vectors_stage", lambda self, grid, ctx, state: True
    )
    state = WorkflowState(active_node_ids={1, 2, 3})
    guarded = GuardedSecAggPlusWorkflow(min_contributors=4, **protocol_parameters(5, 0.2))
    enough = GuardedSecAggPlusWorkflow(min_contributors=3, **protocol_parameters(5, 0.2))

    assert not guarded.collect_masked_vectors_stage(None, None, state)  # type: ignore[arg-type]
    assert "3 masked vectors arrived" in str(guarded.halted)
    assert enough.collect_masked_vectors_stage(None, None, state)  # type: ignore[arg-type]


@pytest.mark.parametrize("devices", [3, 4, 5, 20, 100, 1000])
def test_protocol_parameters_keep_the_threshold_above_half_the_neighbours(devices):
    parameters = protocol_parameters(devices, 0.2)
    shares, threshold = parameters["num_shares"], parameters["reconstruction_threshold"]

    assert shares <= devices
    assert shares == devices or shares % 2 == 1
    assert shares / 2 < threshold < shares
    assert parameters["quantization_range"] * devices < parameters["modulus_range"]
    SecAggPlusWorkflow(**parameters)  # Flower accepts them


def test_protocol_parameters_refuse_rounds_of_fewer_than_three_devices():
    with pytest.raises(ValueError, match="at least 3"):
        protocol_parameters(2, 0.2)
