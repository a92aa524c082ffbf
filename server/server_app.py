"""The Flower ServerApp: a thin layer over server.federated_run."""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

import numpy as np
from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from privacy.noise import SecureGaussian, SeededGaussian
from server.federated_run import Transport, run_federation
from server.flower_transport import FlowerTransport
from server.run_settings import RunSettings
from server.run_workspace import prepare_workspace
from server.secure_aggregation_transport import SecureAggregationTransport
from server.simulated_clients import load_population

RUN_DIR_ENV = "FEDPERSONA_RUN_DIR"
app = ServerApp()


def run_dir(context: Context) -> Path:
    """The run folder: run config ``out`` (flwr run), else $FEDPERSONA_RUN_DIR (simulate)."""
    configured = context.run_config.get("out") or os.environ.get(RUN_DIR_ENV)
    if not configured:
        raise RuntimeError(f"no run folder: set run config 'out' or ${RUN_DIR_ENV}")
    return Path(str(configured))


@app.main()
def main(grid: Grid, context: Context) -> None:
    # dp-accounting logs each RDP order it drops as numerically unstable; the orders left
    # still bound epsilon, so the warnings tell an operator nothing.
    logging.getLogger("absl").setLevel(logging.ERROR)
    root = run_dir(context)
    if (root / "settings.json").is_file():
        settings = RunSettings.load(root / "settings.json")
    else:
        settings = RunSettings.from_run_config(dict(context.run_config))
    data_dir = context.run_config.get("data-dir") or None
    workspace = prepare_workspace(
        root,
        settings,
        load_population(
            settings.population,
            settings.clients,
            seed=settings.seed,
            root=Path(str(data_dir)) if data_dir else None,
        ),
    )
    noise = (
        SecureGaussian()
        if settings.secure_noise
        else SeededGaussian(np.random.default_rng(settings.seed))
    )
    rng = random.SystemRandom() if settings.secure_noise else random.Random(settings.seed)
    transport: Transport = (
        SecureAggregationTransport(
            grid,
            context,
            expected_nodes=settings.clients,
            dropout_tolerance=settings.dropout_tolerance,
        )
        if settings.secure_aggregation
        else FlowerTransport(grid, expected_nodes=settings.clients)
    )
    run_federation(settings, workspace, transport, noise=noise, rng=rng)
