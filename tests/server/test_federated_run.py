"""The server's round loop with the real device code, over the in-process transport."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch

from models.public_head import load_public_head
from models.reply_training import REPLY_PREFIX
from models.reranking_head import EMBEDDING_DIM, HeadConfig, RerankingHead
from models.weights import load_checkpoint
from privacy.noise import SeededGaussian
from protocol.round_instructions import RoundInstructions
from server.federated_run import initial_head, run_federation
from server.metrics_store import MetricsStore
from server.privacy_budget import open_ledger
from server.run_settings import RunSettings
from simulation.held_out import HeldOutUsers, load_examples
from simulation.in_process_transport import InProcessTransport
from simulation.populations import synthetic_population
from simulation.run_workspace import prepare_workspace
from tests.server.in_process_run import CLIENTS, run_in_process


@pytest.fixture
def settings() -> RunSettings:
    return RunSettings(
        population="synthetic",
        clients=CLIENTS,
        rounds=3,
        clients_per_round=4,
        epsilon=8.0,
        delta=1e-3,
        local_epochs=1,
        secure_aggregation=False,  # the central-DP path; secure rounds are tested below
        secure_noise=False,
    )


def test_a_run_completes_with_ledger_checkpoint_and_one_metrics_row_per_round(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))

    workspace, outcome = run_in_process(settings, tmp_path / "run")

    assert outcome.state == "completed"
    assert outcome.rounds == 3
    assert 0 < outcome.epsilon_rdp <= 8.0
    store = MetricsStore(workspace.metrics_path)
    rows = store.rounds()
    assert [r["round"] for r in rows] == [1, 2, 3]
    assert [r["epsilon_rdp"] for r in rows] == sorted(r["epsilon_rdp"] for r in rows)
    assert store.run_info()["state"] == "completed"  # type: ignore[index]
    assert workspace.checkpoint_path.is_file()
    saved = json.loads(workspace.ledger_path.read_text())
    assert sum(count for _, count in saved["rounds"]) == 3


def test_the_budget_stops_training_before_a_round_would_exceed_it(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    tight = settings.with_values(rounds=50, epsilon=2.0, noise_multiplier=2.0)  # 4 rounds fit

    workspace, outcome = run_in_process(tight, tmp_path / "run")

    assert outcome.state == "budget_exhausted"
    assert outcome.rounds == 4
    assert outcome.epsilon_rdp <= 2.0
    ledger = open_ledger(tight, workspace.ledger_path)
    assert ledger.would_exceed_budget()
    info = MetricsStore(workspace.metrics_path).run_info()
    assert info is not None
    assert info["state"] == "budget_exhausted"
    assert "budget" in info["detail"]


def test_a_restarted_run_continues_its_ledger_and_never_resets_it(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    root = tmp_path / "run"
    with pytest.raises(RuntimeError, match="died"):
        run_in_process(settings, root, crash_on_round=3)
    after_crash = open_ledger(settings, root / "ledger.json")
    assert after_crash.rounds == 3  # round 3 was charged before any device was asked

    workspace, outcome = run_in_process(settings, root)

    # The charged round is not run again: its privacy is spent, whatever it released.
    assert outcome.rounds == 3
    assert [r["round"] for r in MetricsStore(workspace.metrics_path).rounds()] == [1, 2]
    fresh = open_ledger(settings, tmp_path / "absent.json")
    for _ in range(3):
        fresh.record_round()
    assert outcome.epsilon_rdp == pytest.approx(fresh.epsilon("rdp"))


def test_without_a_budget_there_is_no_noise_and_no_privacy_claim(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))

    _, outcome = run_in_process(settings.with_values(epsilon=math.inf, rounds=1), tmp_path / "run")

    assert outcome.noise_multiplier == 0.0
    assert math.isinf(outcome.epsilon_rdp)


def test_resuming_with_other_settings_is_refused(tmp_path, settings, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    run_in_process(settings.with_values(rounds=1), tmp_path / "run")

    with pytest.raises(ValueError, match="other settings"):
        run_in_process(settings.with_values(rounds=1, clipping_norm=0.25), tmp_path / "run")


def test_adaptive_clipping_moves_the_norm_toward_the_target_quantile(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    # Without noise the count of unclipped devices is exact, so the steps can be pinned
    # (with noise the count is the release's noisy statistic: tests/server/test_dp_fedavg.py).
    adaptive = settings.with_values(
        adaptive_clipping=True, clipping_norm=50.0, rounds=3, epsilon=math.inf
    )

    workspace, outcome = run_in_process(adaptive, tmp_path / "run")

    rows = MetricsStore(workspace.metrics_path).rounds()
    norms = [r["clipping_norm"] for r in rows]
    assert outcome.state == "completed"
    assert norms[0] == 50.0
    # Every update is far below 50, so every device that took part counts as unclipped and
    # C <- C exp(-0.2 (n / 4 - 0.5)) for n devices of an expected 4 (Andrew et al. 2021).
    assert norms[0] > norms[1] > norms[2]
    for row, following in zip(rows, norms[1:], strict=False):
        step = np.exp(-0.2 * (row["clients_completed"] / 4 - 0.5))
        assert following == pytest.approx(row["clipping_norm"] * step, rel=1e-9)
    assert all(r["fraction_clipped"] == 0.0 for r in rows)


class _NoNoiseAllowed:
    def sample(self, size: int, std: float) -> np.ndarray:
        raise AssertionError(f"the server drew noise (std {std}) under secure aggregation")


class _ConfigSpy:
    """An in-process secure-sum transport that records each round's instructions."""

    def __init__(self, transport: InProcessTransport) -> None:
        self._transport = transport
        self.configs: list[tuple[int, RoundInstructions]] = []

    def node_ids(self) -> list[int]:
        return self._transport.node_ids()

    def train(self, nodes, weights, instructions):
        self.configs.append((len(nodes), instructions))
        return self._transport.train(nodes, weights, instructions)


def test_under_secure_aggregation_the_devices_carry_the_noise_and_the_server_adds_none(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    secure = settings.with_values(
        secure_aggregation=True, sampling="fixed_size", clients_per_round=5, rounds=2
    )
    workspace = prepare_workspace(tmp_path / "run", secure, synthetic_population(CLIENTS, seed=0))
    device_noise = SeededGaussian(np.random.default_rng(1))
    spy = _ConfigSpy(InProcessTransport(workspace, CLIENTS, device_noise, secure_sum=True))

    outcome = run_federation(
        secure, workspace, spy, noise=_NoNoiseAllowed(), rng=random.Random(0), say=lambda _: None
    )

    assert outcome.state == "completed"
    for sampled, config in spy.configs:
        assert sampled == 5
        assert config.min_contributors == 4  # ceil(5 * (1 - 0.2))
        total_std = outcome.noise_multiplier * secure.clipping_norm
        assert config.noise_share_std == pytest.approx(total_std / math.sqrt(4))
    rows = MetricsStore(workspace.metrics_path).rounds()
    assert [r["clients_completed"] for r in rows] == [5, 5]
    assert all(r["statistic_noise_std"] > 0 for r in rows)  # noised sums only


def test_a_transport_that_does_not_match_the_secure_aggregation_setting_is_refused(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    secure = settings.with_values(secure_aggregation=True, rounds=1)
    workspace = prepare_workspace(tmp_path / "run", secure, synthetic_population(CLIENTS, seed=0))
    plain = InProcessTransport(workspace, CLIENTS, SeededGaussian(np.random.default_rng(1)))

    with pytest.raises(RuntimeError, match="secure_aggregation"):
        run_federation(
            secure,
            workspace,
            plain,
            noise=SeededGaussian(np.random.default_rng(0)),
            rng=random.Random(0),
            say=lambda _: None,
        )


def test_a_secure_round_of_fewer_than_three_devices_is_halted_before_any_device_trains(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    secure = settings.with_values(
        secure_aggregation=True, sampling="fixed_size", clients_per_round=2, rounds=1
    )
    workspace = prepare_workspace(tmp_path / "run", secure, synthetic_population(CLIENTS, seed=0))
    spy = _ConfigSpy(
        InProcessTransport(
            workspace, CLIENTS, SeededGaussian(np.random.default_rng(1)), secure_sum=True
        )
    )
    lines: list[str] = []

    outcome = run_federation(
        secure, workspace, spy, noise=_NoNoiseAllowed(), rng=random.Random(0), say=lines.append
    )

    assert spy.configs == []  # no device was asked to train
    assert outcome.rounds == 1  # still a round: a resumed run continues after it
    (row,) = MetricsStore(workspace.metrics_path).rounds()
    assert (row["clients_sampled"], row["clients_completed"]) == (2, 0)
    assert any("a secure round needs 3" in line for line in lines)
    # Nothing was released, so the saved ledger withdrew the round's charge.
    ledger = open_ledger(secure, workspace.ledger_path)
    assert ledger.rounds == 1
    assert list(ledger.withdrawn) == [1]
    assert ledger.epsilon() == 0.0
    assert row["epsilon_rdp"] == 0.0
    assert any("released nothing, not charged" in line for line in lines)


def test_held_out_users_measure_the_head_before_and_after_every_round(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    workspace = prepare_workspace(tmp_path / "run", settings, synthetic_population(CLIENTS, seed=0))
    held_out = HeldOutUsers.of(
        load_examples(workspace.unseen_path),
        workspace.devices.embed_function(),
        dimension=EMBEDDING_DIM,
    )
    lines: list[str] = []

    outcome = run_federation(
        settings,
        workspace,
        InProcessTransport(workspace, CLIENTS, SeededGaussian(np.random.default_rng(1))),
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=lines.append,
        evaluate=held_out,
    )

    store = MetricsStore(workspace.metrics_path)
    info, rows = store.run_info(), store.rounds()
    assert info is not None
    assert outcome.heldout_before is not None
    assert outcome.heldout_after is not None
    assert info["heldout_hits_before"] == pytest.approx(100 * outcome.heldout_before.hits_at_1)
    assert info["heldout_hits_after"] == pytest.approx(100 * outcome.heldout_after.hits_at_1)
    assert info["heldout_hits_ci95"] == pytest.approx(100 * outcome.heldout_after.ci95)
    assert rows[-1]["heldout_hits_at_1"] == pytest.approx(outcome.heldout_after.hits_at_1)
    assert all(0.0 <= r["heldout_hits_at_1"] <= 1.0 for r in rows)
    assert outcome.heldout_after.examples == len(load_examples(workspace.unseen_path)) > 0
    assert any("held-out hits@1" in line for line in lines)


def test_a_run_starts_from_the_public_head_and_its_devices_train_only_the_term(
    tmp_path, settings, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    public = load_public_head()

    workspace, outcome = run_in_process(settings.with_values(rounds=2), tmp_path / "run")

    assert outcome.state == "completed"
    assert outcome.noise_multiplier > 0
    head = load_checkpoint(workspace.checkpoint_path)[0]
    assert head.config == public.config
    before, after = public.state_dict(), head.state_dict()
    moved = {n for n in after if not torch.equal(after[n], before[n])}
    # What moved is what the devices trained and released, their context-to-reply term;
    # the rest was never released, so no round's noise reached it.
    assert moved
    assert all(n.startswith(REPLY_PREFIX) for n in moved)
    assert RerankingHead(public.config).state_dict().keys() - moved  # a frozen part exists


def test_an_untrained_start_and_a_personachat_public_start_are_what_they_say():
    assert RunSettings().start_head_kind == "public"
    assert RunSettings(population="personachat").start_head_kind == "untrained"
    assert RunSettings(start_head="untrained").start_head_kind == "untrained"
    assert initial_head(RunSettings(start_head="untrained")).config == HeadConfig()
    with pytest.raises(ValueError, match="trained on ConvAI2"):
        RunSettings(population="personachat", start_head="public")
    with pytest.raises(ValueError, match="start_head must be one of"):
        RunSettings(start_head="pretrained")
    # A run folder saved before the setting existed started untrained.
    saved = {k: v for k, v in RunSettings().to_json().items() if k != "start_head"}
    assert RunSettings.from_json(saved).start_head_kind == "untrained"
