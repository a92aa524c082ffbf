"""`fedpersona simulate`: set up simulated devices, run Flower's simulation, summarise.

The ServerApp and ClientApps are the same ones `flwr run .` and the deployment engine
use; this module only prepares the run folder, starts Flower's in-process simulation
runtime and reads the results back for a summary a person can read.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flwr.simulation import run_simulation

from models.encoded import encode
from models.ranking_metrics import hits_at_1, mean_reciprocal_rank
from models.ranking_task import RankingExample
from models.training import score
from models.weights import load_checkpoint
from server.metrics_store import MetricsStore
from server.run_settings import RunSettings
from simulation.populations import load_population
from simulation.run_workspace import RUN_DIR_ENV, prepare_workspace
from simulation.simulated_devices import SimulatedDevices

# One Ray actor with both cores: fastest on this project's 2-core machines (ENVIRONMENT.md).
BACKEND_CONFIG: dict[str, Any] = {
    "client_resources": {"num_cpus": 2, "num_gpus": 0.0},
    "init_args": {"logging_level": logging.ERROR, "log_to_driver": False},
}


@dataclass(frozen=True)
class SimulationSummary:
    state: str
    detail: str
    rounds: list[dict[str, Any]]
    unseen_hits_at_1: float | None
    unseen_mrr: float | None
    unseen_examples: int
    metrics_path: Path


def simulate(
    settings: RunSettings,
    out: Path,
    *,
    data_dir: Path | None = None,
    say: Callable[[str], None] = print,
) -> SimulationSummary:
    population = load_population(
        settings.population, settings.clients, seed=settings.seed, root=data_dir
    )
    say(f"setting up {len(population.clients)} simulated devices ({population.name}) in {out}")
    workspace = prepare_workspace(out, settings, population)
    os.environ[RUN_DIR_ENV] = str(out)
    # Quiet: Flower's notice that run_simulation is deprecated (`flwr run .` also works) and
    # Ray's notice about a future default for GPU visibility (there is no GPU here).
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    logging.getLogger("flwr").setLevel(logging.ERROR)
    from simulation.client_app import app as client_app  # Flower apps import lazily: heavy
    from simulation.server_app import app as server_app

    run_simulation(
        server_app,
        client_app,
        num_supernodes=len(population.clients),
        backend_config=BACKEND_CONFIG,
    )
    return summarise(workspace.root)


def summarise(root: Path) -> SimulationSummary:
    """Read a finished (or stopped) run folder back."""
    store = MetricsStore(root / "metrics.sqlite")
    try:
        info, rounds = store.run_info() or {}, store.rounds()
    finally:
        store.close()
    hits = mrr = None
    examples = []
    if (root / "head.npz").is_file():
        model, _ = load_checkpoint(root / "head.npz")
        raw = json.loads((root / "unseen_users.json").read_text())
        examples = [
            RankingExample(
                **{**e, "persona": tuple(e["persona"]), "candidates": tuple(e["candidates"])}
            )
            for e in raw
        ]
        if examples:
            data = encode(examples, SimulatedDevices.load(root).embed_function(), dimension=384)
            scores = score(model, data)
            hits, mrr = hits_at_1(scores), mean_reciprocal_rank(scores)
    return SimulationSummary(
        state=str(info.get("state", "not started")),
        detail=str(info.get("detail", "")),
        rounds=rounds,
        unseen_hits_at_1=hits,
        unseen_mrr=mrr,
        unseen_examples=len(examples),
        metrics_path=root / "metrics.sqlite",
    )
