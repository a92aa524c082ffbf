"""The ClientApp of a simulation: node i is simulated device i of the run folder.

`flwr run .` and `fedpersona simulate` load this app ([tool.flwr.app.components]); a real
device builds its own from client.client_app.DeviceRounds.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path

from flwr.app import Context

from client.client_app import DeviceRounds
from client.profile import Profile
from models.encoded import EmbedFn
from simulation.run_workspace import RUN_DIR_ENV
from simulation.simulated_devices import SimulatedDevices


@cache
def _devices(root: str) -> tuple[SimulatedDevices, EmbedFn]:
    devices = SimulatedDevices.load(Path(root))
    return devices, devices.embed_function()  # loaded once per worker process


def open_simulated_device(context: Context) -> tuple[AbstractContextManager[Profile], EmbedFn]:
    """The store and embeddings of the simulated device this node stands for."""
    root = str(context.run_config.get("out") or os.environ[RUN_DIR_ENV])
    devices, embed = _devices(root)
    device = int(context.node_config["partition-id"])
    return Profile.open(devices.store_path(device), devices.passphrase(device)), embed


rounds = DeviceRounds(open_simulated_device)
app = rounds.client_app()
