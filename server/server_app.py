"""The Flower ServerApp: a thin layer over server.federated_run.

``run_server`` runs the federation of a Grid's nodes into a run folder; the app below
takes the folder from the run config's ``out`` and the settings from the folder (a resumed
run) or from the run config, whose defaults are a deployed run's: unamplified accounting,
since a deployment cannot guarantee random sampling (server.run_settings.DEPLOYED_DEFAULTS).
The simulation harness wraps the same function with the set-up of its simulated devices
(simulation.server_app).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from privacy.noise import SecureGaussian, SeededGaussian
from server.federated_run import RunOutcome, Transport, run_federation
from server.flower_transport import FlowerTransport
from server.held_out import Evaluate
from server.run_folder import RunFolder
from server.run_settings import RunSettings
from server.secure_aggregation import SecureAggregationTransport

app = ServerApp()


def settings_for(folder: RunFolder, context: Context) -> RunSettings:
    """A resumed run's saved settings, else the run config's."""
    if folder.settings_path.is_file():
        return RunSettings.load(folder.settings_path)
    return RunSettings.from_run_config(dict(context.run_config))


def run_server(
    grid: Grid,
    context: Context,
    settings: RunSettings,
    folder: RunFolder,
    *,
    evaluate: Evaluate | None = None,
    reference_facts: Sequence[str] = (),
) -> RunOutcome:
    # dp-accounting logs each RDP order it drops as numerically unstable; the orders left
    # still bound epsilon, so the warnings tell an operator nothing.
    logging.getLogger("absl").setLevel(logging.ERROR)
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
        else FlowerTransport(grid, expected_nodes=settings.clients, run_id=str(context.run_id))
    )
    return run_federation(
        settings,
        folder,
        transport,
        noise=noise,
        rng=rng,
        evaluate=evaluate,
        reference_facts=reference_facts,
    )


@app.main()
def main(grid: Grid, context: Context) -> None:
    out = context.run_config.get("out")
    if not out:
        raise RuntimeError("no run folder: set the run config's 'out'")
    folder = RunFolder(Path(str(out)))
    folder.root.mkdir(parents=True, exist_ok=True)
    settings = settings_for(folder, context)
    if not folder.settings_path.is_file():
        settings.save(folder.settings_path)
    run_server(grid, context, settings, folder)
