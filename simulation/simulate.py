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

from server.metrics_store import FILE_NAME as METRICS_FILE
from server.metrics_store import MetricsStore, RoundRow
from server.run_settings import RunSettings
from simulation.populations import load_population
from simulation.run_workspace import RUN_DIR_ENV, prepare_workspace

# One Ray actor with both cores: fastest on this project's 2-core machines (ENVIRONMENT.md).
BACKEND_CONFIG: dict[str, Any] = {
    "client_resources": {"num_cpus": 2, "num_gpus": 0.0},
    "init_args": {"logging_level": logging.ERROR, "log_to_driver": False},
}


@dataclass(frozen=True)
class SimulationSummary:
    """A finished (or stopped) run as the metrics store recorded it."""

    state: str
    detail: str
    rounds: list[RoundRow]
    # hits@1 (percent) on the held-out users: before the first round, after the last, and
    # the 95% interval's half-width; None when no round ran
    heldout_before: float | None
    heldout_after: float | None
    heldout_ci95: float | None
    heldout_examples: int
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
    from simulation.message_delivery import use_one_scan_delivery
    from simulation.server_app import app as server_app

    use_one_scan_delivery()  # Flower's own loop costs a core at 1,000 devices and more

    run_simulation(
        server_app,
        client_app,
        num_supernodes=len(population.clients),
        backend_config=BACKEND_CONFIG,
    )
    return summarise(workspace.root)


def summarise(root: Path) -> SimulationSummary:
    """Read a finished (or stopped) run folder back: its run record and typed rows."""
    store = MetricsStore(root / METRICS_FILE)
    try:
        info, rounds = store.run_info() or {}, store.round_rows()
    finally:
        store.close()
    unseen = root / "unseen_users.json"
    return SimulationSummary(
        state=str(info.get("state", "not started")),
        detail=str(info.get("detail", "")),
        rounds=rounds,
        heldout_before=info.get("heldout_hits_before"),
        heldout_after=info.get("heldout_hits_after"),
        heldout_ci95=info.get("heldout_hits_ci95"),
        heldout_examples=len(json.loads(unseen.read_text())) if unseen.is_file() else 0,
        metrics_path=root / METRICS_FILE,
    )
