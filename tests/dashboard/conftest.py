"""Metrics stores written by real (short, in-process) federated runs, once per session.

``runs/`` holds three runs an operator could pick among: ``cohort`` (12 clients, 10 a round,
fixed-size: statistics shown), ``small`` (8 clients, about 4 a round: statistics withheld)
and ``exhausted`` (a tight budget that stops training). Beside them, ``secure`` (the cohort
run as a deployment would run it: secure aggregation, so sums only, and unamplified
accounting, each device at most 4 rounds) and stores the dashboard must explain instead of
show: empty, older schema, no rounds yet.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from privacy.noise import SeededGaussian
from server.federated_run import run_federation
from server.metrics_store import MetricsStore
from server.reference_facts import common_facts
from server.run_settings import RunSettings
from simulation.in_process_transport import InProcessTransport
from simulation.populations import synthetic_population
from simulation.run_workspace import prepare_workspace

COHORT = RunSettings(
    population="synthetic",
    clients=12,
    clients_per_round=10,
    sampling="fixed_size",
    rounds=4,
    epsilon=8.0,
    noise_multiplier=3.5,  # 4 rounds spend about 4.7 of 8 (delta 1/120): 3 more would fit
    local_epochs=1,
    secure_aggregation=False,  # central DP: the server adds the noise
    secure_noise=False,
)
SMALL = COHORT.with_values(
    clients=8, clients_per_round=4, sampling="poisson", delta=1e-3, noise_multiplier=None
)
EXHAUSTED = SMALL.with_values(rounds=50, epsilon=2.0, noise_multiplier=2.0)  # 4 rounds fit
SECURE = COHORT.with_values(secure_aggregation=True, accounting="unamplified")


@dataclass(frozen=True)
class Stores:
    runs: Path
    cohort: Path
    small: Path
    exhausted: Path
    secure: Path
    empty: Path
    older: Path
    no_rounds: Path
    missing: Path


def _run(settings: RunSettings, root: Path) -> Path:
    population = synthetic_population(settings.clients, seed=0)
    workspace = prepare_workspace(root, settings, population)
    # The held-out users stand for the public reference population (simulation.server_app).
    reference = common_facts({e.user_id: e.persona for e in population.unseen_users}.values())
    run_federation(
        settings,
        workspace,
        InProcessTransport(
            workspace,
            settings.clients,
            SeededGaussian(np.random.default_rng(1)),
            secure_sum=settings.secure_aggregation,
        ),
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=lambda _: None,
        reference_facts=reference,
    )
    return workspace.metrics_path


def _older_store(path: Path) -> Path:
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE rounds (round INTEGER PRIMARY KEY, train_loss REAL, epsilon REAL)")
    conn.execute("CREATE TABLE run (id INTEGER PRIMARY KEY, settings TEXT, state TEXT)")
    conn.execute("INSERT INTO run VALUES (1, ?, 'completed')", (json.dumps({"rounds": 2}),))
    conn.commit()
    conn.close()
    return path


def _no_rounds_store(path: Path) -> Path:
    store = MetricsStore(path)
    store.start_run({**COHORT.to_json(), "noise_multiplier": 1.0, "delta": 0.01})
    store.close()
    return path


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory, encoder_cache: Path) -> Stores:
    root = tmp_path_factory.mktemp("dashboard")
    runs = root / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
        cohort = _run(COHORT, runs / "cohort")
        small = _run(SMALL, runs / "small")
        exhausted = _run(EXHAUSTED, runs / "exhausted")
        secure = _run(SECURE, root / "secure")
    empty = root / "empty" / "metrics.sqlite"
    empty.parent.mkdir()
    sqlite3.connect(empty).close()
    return Stores(
        runs=runs,
        cohort=cohort,
        small=small,
        exhausted=exhausted,
        secure=secure,
        empty=empty,
        older=_older_store(root / "older" / "metrics.sqlite"),
        no_rounds=_no_rounds_store(root / "no_rounds" / "metrics.sqlite"),
        missing=root / "nowhere" / "metrics.sqlite",
    )
