"""The ServerApp of a simulation: set up the simulated devices once, then serve the run.

`flwr run .` and `fedpersona simulate` load this app; a real deployment runs
server.server_app, which knows nothing of simulated devices.
"""

from __future__ import annotations

import os
from pathlib import Path

from flwr.app import Context
from flwr.serverapp import Grid, ServerApp

from models.reranking_head import EMBEDDING_DIM
from server.reference_facts import common_facts
from server.run_folder import RunFolder
from server.server_app import run_server, settings_for
from simulation.held_out import HeldOutUsers, load_examples
from simulation.populations import load_population
from simulation.run_workspace import RUN_DIR_ENV, open_workspace

app = ServerApp()


def run_dir(context: Context) -> Path:
    """The run folder: run config ``out`` (flwr run), else $FEDPERSONA_RUN_DIR (simulate)."""
    configured = context.run_config.get("out") or os.environ.get(RUN_DIR_ENV)
    if not configured:
        raise RuntimeError(f"no run folder: set run config 'out' or ${RUN_DIR_ENV}")
    return Path(str(configured))


@app.main()
def main(grid: Grid, context: Context) -> None:
    root = run_dir(context)
    settings = settings_for(RunFolder(root), context)
    data_dir = context.run_config.get("data-dir") or None
    workspace = open_workspace(
        root,
        settings,
        lambda: load_population(
            settings.population,
            settings.clients,
            seed=settings.seed,
            root=Path(str(data_dir)) if data_dir else None,
        ),
    )
    examples = load_examples(workspace.unseen_path)
    held_out = HeldOutUsers.of(
        examples, workspace.devices.embed_function(), dimension=EMBEDDING_DIM
    )
    # The held-out users are the simulation's public reference population.
    personas = {e.user_id: e.persona for e in examples}
    run_server(
        grid,
        context,
        settings,
        workspace,
        evaluate=held_out,
        reference_facts=common_facts(personas.values()),
    )
