"""A run accounted without amplification: the server samples no device past its cap, the
devices refuse past it themselves, and the ledger's epsilon is k Gaussian events."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import dp_accounting  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import pytest
from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

from privacy.noise import SeededGaussian
from privacy.secure_aggregation import SecureSum
from protocol.round_instructions import RoundInstructions
from server.dp_fedavg import ClientReport
from server.federated_run import RunOutcome, Transport, run_federation
from server.metrics_store import MetricsStore
from server.run_settings import RunSettings
from simulation.in_process_transport import InProcessTransport
from simulation.populations import synthetic_population
from simulation.run_workspace import Workspace, prepare_workspace

CLIENTS = 8


def capped_settings(**changes: object) -> RunSettings:
    settings = RunSettings(
        population="synthetic",
        clients=CLIENTS,
        rounds=3,
        clients_per_round=4,
        sampling="fixed_size",
        accounting="unamplified",
        participation_cap=1,
        epsilon=8.0,
        delta=1e-3,
        local_epochs=1,
        secure_aggregation=False,
        secure_noise=False,
    )
    return settings.with_values(**changes)


class Reconnecting:
    """Every device reachable under two node ids, as after a reconnect: the server's count
    by node id cannot keep the cap, only the devices' own count can."""

    def __init__(self, inner: InProcessTransport, devices: int) -> None:
        self.inner, self.devices = inner, devices
        self.asked: list[int] = []

    def node_ids(self) -> list[int]:
        return list(range(2 * self.devices))

    def train(
        self,
        nodes: Sequence[int],
        weights: list[npt.NDArray[np.float32]],
        instructions: RoundInstructions,
    ) -> list[ClientReport] | SecureSum:
        self.asked += [node % self.devices for node in nodes]
        return self.inner.train([node % self.devices for node in nodes], weights, instructions)


def _run(
    settings: RunSettings,
    root: Path,
    wrap: bool = False,
    crash_on_round: int | None = None,
    said: list[str] | None = None,
) -> tuple[Workspace, RunOutcome]:
    workspace = prepare_workspace(root, settings, synthetic_population(CLIENTS, seed=0))
    noise = SeededGaussian(np.random.default_rng(1))
    inner = InProcessTransport(workspace, CLIENTS, noise, crash_on_round=crash_on_round)
    transport: Transport = Reconnecting(inner, CLIENTS // 2) if wrap else inner
    outcome = run_federation(
        settings,
        workspace,
        transport,
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=(said if said is not None else []).append,
    )
    return workspace, outcome


def one_gaussian_epsilon(z: float, delta: float) -> float:
    accountant = rdp_privacy_accountant.RdpAccountant()
    accountant.compose(dp_accounting.GaussianDpEvent(z))
    return float(accountant.get_epsilon(delta))


def test_the_server_samples_no_device_past_its_cap_and_stops_when_all_are_capped(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = capped_settings()
    said: list[str] = []

    workspace, outcome = _run(settings, tmp_path / "run", said=said)

    assert outcome.state == "devices_exhausted"  # 8 devices, 4 a round, each at most once
    assert outcome.rounds == 2
    counts = json.loads((workspace.root / "participation.json").read_text())["counts"]
    assert sorted(counts.values()) == [1] * CLIENTS
    assert outcome.epsilon_rdp == pytest.approx(
        one_gaussian_epsilon(outcome.noise_multiplier, settings.target_delta), rel=1e-12
    )
    assert outcome.epsilon_rdp <= 8.0
    assert "holds however devices are chosen" in outcome.assumption
    assert said[-1].endswith(f"It rests on this: {outcome.assumption}.")
    info = MetricsStore(workspace.metrics_path).run_info()
    assert info is not None
    assert info["accounting_assumption"] == outcome.assumption
    assert info["settings"]["participation_limit"] == 1
    assert "cap of 1 rounds" in info["detail"]


def test_the_devices_keep_the_cap_when_the_servers_count_cannot(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = capped_settings(rounds=2)

    workspace, outcome = _run(settings, tmp_path / "run", wrap=True)

    store = MetricsStore(workspace.metrics_path)
    rows = store.rounds()
    # 8 node ids for 4 devices: the server asked every device twice; each released once.
    assert outcome.rounds == 2
    assert sum(r["clients_sampled"] for r in rows) == 8
    assert sum(r["clients_completed"] for r in rows) == 4
    assert sum(r["clients_dropped"] for r in rows) == 4


def test_a_restarted_server_keeps_its_count_and_its_run_token(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = capped_settings(participation_cap=2)
    root = tmp_path / "run"
    with pytest.raises(RuntimeError, match="died"):
        _run(settings, root, crash_on_round=2)
    before = json.loads((root / "participation.json").read_text())

    _, outcome = _run(settings, root)

    after = json.loads((root / "participation.json").read_text())
    assert sum(before["counts"].values()) == 8  # round 2 counted before any device was asked
    assert outcome.rounds == 3
    assert after["run_token"] == before["run_token"]
    assert sum(after["counts"].values()) == 12
    assert max(after["counts"].values()) <= 2
