"""Server momentum (DP-FedAvgM): the step rule, and that a run keeps it across a restart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.public_head import load_public_head
from models.reranking_head import HeadConfig
from models.training import new_head
from models.weights import flatten, get_weights, load_checkpoint, read_checkpoint, save_checkpoint
from server import server_steps
from server.run_settings import RunSettings
from server.server_steps import MOMENTUM, TRAINING_HEAD, averaged, momentum_step
from tests.server.in_process_run import CLIENTS, run_in_process


def test_without_a_previous_step_the_step_is_the_rounds_own():
    current, aggregated = np.zeros(3), np.array([1.0, -2.0, 0.5])

    weights, velocity = momentum_step(current, aggregated, None, 0.9)

    np.testing.assert_array_equal(weights, aggregated)
    np.testing.assert_array_equal(velocity, aggregated)


def test_each_step_adds_beta_times_the_previous_one():
    current, aggregated = np.ones(2), np.array([2.0, 1.0])

    weights, velocity = momentum_step(current, aggregated, np.array([1.0, -1.0]), 0.5)

    np.testing.assert_allclose(velocity, [1.0 + 0.5, 0.0 - 0.5])
    np.testing.assert_allclose(weights, current + velocity)


@pytest.mark.parametrize("beta", [-0.1, 1.0, float("nan")])
def test_a_beta_outside_zero_to_one_is_refused(beta):
    with pytest.raises(ValueError, match="beta"):
        momentum_step(np.zeros(2), np.zeros(2), None, beta)
    with pytest.raises(ValueError, match="server_momentum"):
        RunSettings(server_momentum=beta)


def test_a_saved_step_of_another_size_is_refused():
    with pytest.raises(ValueError, match="saved momentum"):
        momentum_step(np.zeros(3), np.zeros(3), np.zeros(4), 0.5)


def test_state_arrays_travel_with_the_checkpoint_and_leave_the_head_alone(tmp_path):
    head = new_head(HeadConfig(), seed=0)
    step = np.linspace(-1, 1, flatten(get_weights(head)).size)

    save_checkpoint(tmp_path / "head.npz", head, extra={"rounds": 2}, state={MOMENTUM: step})

    loaded, extra = load_checkpoint(tmp_path / "head.npz")
    np.testing.assert_array_equal(flatten(get_weights(loaded)), flatten(get_weights(head)))
    assert extra == {"rounds": 2}
    np.testing.assert_array_equal(read_checkpoint(tmp_path / "head.npz").state[MOMENTUM], step)
    save_checkpoint(tmp_path / "plain.npz", head)
    assert read_checkpoint(tmp_path / "plain.npz").state == {}


def _run(settings: RunSettings, root: Path, *, crash_on_round: int | None = None) -> None:
    _, outcome = run_in_process(settings, root, crash_on_round=crash_on_round)
    assert outcome.state == "completed", outcome.detail


def _settings(**values: object) -> RunSettings:
    return RunSettings(
        population="synthetic",
        clients=CLIENTS,
        clients_per_round=4,
        sampling="fixed_size",
        epsilon=8.0,
        delta=1e-3,
        noise_multiplier=3.0,  # not calibrated to the rounds: round 1 is the same in every run
        local_epochs=1,
        secure_aggregation=False,
        secure_noise=False,
    ).with_values(**values)


def _head(root: Path) -> np.ndarray:
    model, _ = load_checkpoint(root / "head.npz")
    return flatten(get_weights(model))


@pytest.mark.slow
def test_momentum_adds_the_previous_step_and_a_restart_continues_it(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    beta = 0.5
    _run(_settings(rounds=1, server_momentum=beta), tmp_path / "one")
    _run(_settings(rounds=2), tmp_path / "plain")
    _run(_settings(rounds=2, server_momentum=beta), tmp_path / "momentum")
    start = flatten(get_weights(load_public_head()))
    after_one = _head(tmp_path / "one")

    # Round 1 is the same in all three runs; round 2's devices train from the same head, so
    # momentum differs from plain DP-FedAvg by exactly beta times round 1's step.
    expected = _head(tmp_path / "plain") + beta * (after_one - start)
    np.testing.assert_allclose(_head(tmp_path / "momentum"), expected, atol=1e-5)
    saved = read_checkpoint(tmp_path / "momentum" / "head.npz").state[MOMENTUM]
    np.testing.assert_allclose(saved, _head(tmp_path / "momentum") - after_one, atol=1e-5)

    # A run that dies after round 2 resumes with round 2's step, not from rest.
    resumed = tmp_path / "resumed"
    with pytest.raises(RuntimeError, match="died"):
        _run(_settings(rounds=4, server_momentum=beta), resumed, crash_on_round=3)
    saved = read_checkpoint(resumed / "head.npz").state[MOMENTUM]
    seen: list[np.ndarray | None] = []

    def recording_step(current, aggregated, velocity, momentum):
        seen.append(None if velocity is None else velocity.copy())
        return momentum_step(current, aggregated, velocity, momentum)

    monkeypatch.setattr(server_steps, "momentum_step", recording_step)
    _run(_settings(rounds=4, server_momentum=beta), resumed)
    assert len(seen) == 1  # round 3 was charged before it died; only round 4 runs
    assert seen[0] is not None
    np.testing.assert_array_equal(seen[0], saved)


def test_the_average_starts_at_the_first_head_and_moves_by_one_minus_beta():
    first, second = np.array([1.0, 3.0]), np.array([3.0, -1.0])

    average = averaged(None, first, 0.75)
    np.testing.assert_array_equal(average, first)
    np.testing.assert_allclose(averaged(average, second, 0.75), [1.5, 2.0])
    with pytest.raises(ValueError, match="saved average"):
        averaged(np.zeros(3), second, 0.75)


@pytest.mark.slow
def test_the_run_publishes_the_average_trains_on_and_resumes_from_the_training_head(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    beta = 0.5
    _run(_settings(rounds=1), tmp_path / "one")
    _run(_settings(rounds=2), tmp_path / "plain")
    _run(_settings(rounds=2, head_averaging=beta), tmp_path / "averaged")

    # Averaging changes what is published, not what the devices train from.
    plain = _head(tmp_path / "plain")
    expected = beta * _head(tmp_path / "one") + (1 - beta) * plain
    np.testing.assert_allclose(_head(tmp_path / "averaged"), expected, atol=1e-5)
    saved = read_checkpoint(tmp_path / "averaged" / "head.npz").state[TRAINING_HEAD]
    np.testing.assert_allclose(saved, plain, atol=1e-6)

    # Killed after round 2 and resumed, it trains on from the training head, as plain does.
    for name, values in (("plain-resumed", {}), ("averaged-resumed", {"head_averaging": beta})):
        with pytest.raises(RuntimeError, match="died"):
            _run(_settings(rounds=4, **values), tmp_path / name, crash_on_round=3)
        _run(_settings(rounds=4, **values), tmp_path / name)
    training = read_checkpoint(tmp_path / "averaged-resumed" / "head.npz").state[TRAINING_HEAD]
    np.testing.assert_allclose(training, _head(tmp_path / "plain-resumed"), atol=1e-5)
    assert not np.allclose(_head(tmp_path / "averaged-resumed"), training, atol=1e-3)
