"""The Flower ClientApp: a thin layer over client.federated_round.

A simulated device finds its store through the run folder (client.simulated_device) and
its index in the node config (``partition-id``).
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from client.federated_round import RoundInstructions, run_round
from client.profile import Profile
from client.simulated_device import SimulatedDevices
from models.encoded import EmbedFn
from models.reranking_head import HeadConfig
from privacy.noise import SecureGaussian

RUN_DIR_ENV = "FEDPERSONA_RUN_DIR"
app = ClientApp()


@cache
def _devices(root: str) -> tuple[SimulatedDevices, EmbedFn]:
    devices = SimulatedDevices.load(Path(root))
    return devices, devices.embed_function()  # loaded once per worker process


@app.train()
def train(message: Message, context: Context) -> Message:
    root = str(context.run_config.get("out") or os.environ[RUN_DIR_ENV])
    devices, embed = _devices(root)
    device = int(context.node_config["partition-id"])
    config = message.content.config_records["config"]
    instructions = RoundInstructions(
        clipping_norm=_number(config["clipping-norm"]),
        local_epochs=int(_number(config["local-epochs"])),
        learning_rate=_number(config["learning-rate"]),
        noise_share_std=_number(config["noise-share-std"]),
        seed=int(_number(config["round"])),
    )
    weights = message.content.array_records["arrays"].to_numpy_ndarrays()
    with Profile.open(devices.store_path(device), devices.passphrase(device)) as profile:
        outcome = run_round(profile, weights, HeadConfig(), instructions, embed, SecureGaussian())
    metrics: dict[str, int | float | list[int] | list[float]] = dict(outcome.metrics)
    content = RecordDict(
        {"update": ArrayRecord([outcome.update]), "metrics": MetricRecord(metrics)}
    )
    return Message(content=content, reply_to=message)


def _number(value: object) -> float:
    if not isinstance(value, int | float):
        raise TypeError(f"expected a number in the round config, got {type(value).__name__}")
    return float(value)
