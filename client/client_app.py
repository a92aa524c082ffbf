"""The Flower ClientApp: a thin layer over client.federated_round.

A simulated device finds its store through the run folder (client.simulated_device) and
its index in the node config (``partition-id``).

One app serves both kinds of round, and in both the device sends one vector, its release
(privacy.device_release: the clipped update and its bounded statistics). A plain round
(Message API) replies with it as the only record. A SecAgg+ round (Flower's legacy API, the
only one with SecAgg+ in Flower 1.41) goes through ``secaggplus_mod`` to a NumPyClient
whose reply is masked: the release with its noise share, a weight of 1 and no metrics.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
from flwr.app import ArrayRecord, Context, Message, RecordDict
from flwr.client import Client, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS

from client.federated_round import RoundInstructions, RoundOutcome, run_round
from client.profile import Profile
from client.simulated_device import SimulatedDevices
from models.encoded import EmbedFn
from models.reranking_head import HeadConfig
from privacy.noise import SecureGaussian

RUN_DIR_ENV = "FEDPERSONA_RUN_DIR"
Arrays = list[npt.NDArray[np.float32]]


@cache
def _devices(root: str) -> tuple[SimulatedDevices, EmbedFn]:
    devices = SimulatedDevices.load(Path(root))
    return devices, devices.embed_function()  # loaded once per worker process


def _device_round(context: Context, weights: Arrays, config: Mapping[str, object]) -> RoundOutcome:
    """This node's device trains the received head as the round's config asks."""
    root = str(context.run_config.get("out") or os.environ[RUN_DIR_ENV])
    devices, embed = _devices(root)
    device = int(context.node_config["partition-id"])
    instructions = RoundInstructions.from_config(config)
    with Profile.open(devices.store_path(device), devices.passphrase(device)) as profile:
        return run_round(profile, weights, HeadConfig(), instructions, embed, SecureGaussian())


def train(message: Message, context: Context) -> Message:
    """A plain round: reply with the device's release and nothing else."""
    outcome = _device_round(
        context,
        message.content.array_records["arrays"].to_numpy_ndarrays(),
        message.content.config_records["config"],
    )
    content = RecordDict({"release": ArrayRecord([outcome.payload])})
    return Message(content=content, reply_to=message)


class SecureRoundClient(NumPyClient):
    """A SecAgg+ round: ``secaggplus_mod`` masks what ``fit`` returns before it leaves."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def fit(
        self, parameters: Arrays, config: dict[str, bool | bytes | float | int | str]
    ) -> tuple[list[npt.NDArray[np.float64]], int, dict[str, bool | bytes | float | int | str]]:
        outcome = _device_round(self._context, parameters, config)
        return [outcome.payload], 1, {}


def secure_round_client(context: Context) -> Client:
    return SecureRoundClient(context).to_client()


def route_round(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """A mod: SecAgg+ rounds go through Flower's secaggplus_mod, plain ones to ``train``."""
    if RECORD_KEY_CONFIGS in message.content.config_records:
        return secaggplus_mod(message, context, call_next)
    return train(message, context)


app = ClientApp(client_fn=secure_round_client, mods=[route_round])
