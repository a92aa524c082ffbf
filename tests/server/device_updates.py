"""What honest devices release in a round, computed directly (to check what a server applied)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from client.federated_round import run_round
from client.profile import Profile
from models.weights import flatten
from privacy.noise import SeededGaussian
from protocol.round_instructions import RoundInstructions
from server.federated_run import initial_head
from server.run_settings import RunSettings
from simulation.run_workspace import Workspace


def summed_updates(
    workspace: Workspace,
    settings: RunSettings,
    devices: Sequence[int],
    weights: list[npt.NDArray[np.float32]],
    *,
    round_number: int = 1,
) -> npt.NDArray[np.float64]:
    """The sum of the update parts the ``devices`` release from ``weights`` in a round
    without noise shares (shape (d,))."""
    instructions = RoundInstructions(
        round=round_number,
        clipping_norm=settings.clipping_norm,
        local_epochs=settings.local_epochs,
        learning_rate=settings.learning_rate,
        head=initial_head(settings).config,
    )
    embed = workspace.devices.embed_function()
    total = np.zeros(flatten(weights).size)
    for device in devices:
        path = workspace.devices.store_path(device)
        with Profile.open(path, workspace.devices.passphrase(device)) as profile:
            outcome = run_round(
                profile, weights, instructions, embed, SeededGaussian(np.random.default_rng(0))
            )
        total += outcome.payload[: total.size]
    return total
