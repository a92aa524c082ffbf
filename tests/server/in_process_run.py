"""One federated run over the in-process transport, seeded: the server tests' shared driver."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np

from privacy.noise import SeededGaussian
from server.federated_run import RunOutcome, run_federation
from server.run_settings import RunSettings
from simulation.in_process_transport import InProcessTransport
from simulation.populations import synthetic_population
from simulation.run_workspace import Workspace, prepare_workspace

CLIENTS = 8


def run_in_process(
    settings: RunSettings, root: Path, *, crash_on_round: int | None = None
) -> tuple[Workspace, RunOutcome]:
    """Run (or resume) ``settings`` in ``root`` on CLIENTS synthetic devices, seeded noise;
    ``crash_on_round``: a device dies in that round."""
    workspace = prepare_workspace(root, settings, synthetic_population(CLIENTS, seed=0))
    return workspace, run_federation(
        settings,
        workspace,
        InProcessTransport(
            workspace,
            CLIENTS,
            SeededGaussian(np.random.default_rng(1)),
            crash_on_round=crash_on_round,
        ),
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=lambda _: None,
    )
