"""The ClientApp that `flwr run .` loads: a joined real device, or a simulated one.

A SuperNode started by `fedpersona client join` names its device's store in its node
config (client.device_opener): that node opens its own store. Any other node i is
simulated device i of the run folder (node config ``partition-id``). `fedpersona simulate`
loads the same app. Both kinds of device go through the same client.client_app.DeviceRounds,
so they train, clip and add noise shares alike.
"""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path

from flwr.app import Context

from client.client_app import DeviceRounds
from client.device_opener import is_joined_device, open_own_device
from client.profile import Profile
from models.encoded import EmbedFn
from simulation.simulated_devices import RUN_DIR_ENV, SimulatedDevices


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


def open_device(context: Context) -> tuple[AbstractContextManager[Profile], EmbedFn]:
    if is_joined_device(context.node_config):
        return open_own_device(context.node_config)
    return open_simulated_device(context)


rounds = DeviceRounds(open_device)
app = rounds.client_app()
