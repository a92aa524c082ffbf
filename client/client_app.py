"""A device's Flower ClientApp: a thin layer over client.federated_round.

What a device is comes from the caller: ``DeviceRounds(open_device)`` takes a function that
opens, for a Flower node, the device's encrypted profile and its embedding function. A real
device opens its one store; the simulation harness (simulation.client_app) opens simulated
device i of a run folder.

One app serves both kinds of round, and in both the device sends one vector, its release
(privacy.device_release: the clipped update and its bounded statistics). A plain round
(Message API) replies with it and the round's binding (its run id and round number,
echoed so that the server can turn away a replayed or misdirected reply). A SecAgg+ round
(Flower's legacy API, the only one with SecAgg+ in Flower 1.41) goes through
``secaggplus_mod`` to a NumPyClient whose reply is masked: the release with its noise share,
a weight of 1 and no metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    ConfigRecordValues,
    Context,
    Message,
    RecordDict,
)
from flwr.client import Client, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS

from client.device_opener import node_participation_cap
from client.profile import Profile
from models.encoded import EmbedFn
from privacy.noise import SecureGaussian
from protocol.round_instructions import BINDING, RoundInstructions

if TYPE_CHECKING:
    from client.federated_round import RoundOutcome

Arrays = list[npt.NDArray[np.float32]]
DeviceOpener = Callable[[Context], tuple[AbstractContextManager[Profile], EmbedFn]]


@dataclass(frozen=True)
class DeviceRounds:
    """The device side of federated rounds for the devices ``open_device`` opens."""

    open_device: DeviceOpener
    # The device's own ceiling on the rounds of one run it joins, whatever a server asks
    # (a node's config ``participation-cap`` overrides it for that node).
    participation_cap: int | None = None

    def round(
        self, context: Context, weights: Arrays, config: Mapping[str, object]
    ) -> RoundOutcome:
        """This node's device trains the received head as the round's config asks."""
        # Imported here: training needs torch, and a deployed node starts one process per
        # message, so SecAgg+'s key stages (three of its four) start without it.
        from client.federated_round import run_round

        instructions = RoundInstructions.from_config(config)
        cap = node_participation_cap(context.node_config, self.participation_cap)
        opened, embed = self.open_device(context)
        with opened as profile:
            return run_round(
                profile,
                weights,
                instructions,
                embed,
                SecureGaussian(),
                device_cap=cap,
            )

    def train(self, message: Message, context: Context) -> Message:
        """A plain round: reply with the device's release and the round's binding, nothing else."""
        config = message.content.config_records["config"]
        outcome = self.round(
            context, message.content.array_records["arrays"].to_numpy_ndarrays(), config
        )
        echo: dict[str, ConfigRecordValues] = dict(RoundInstructions.from_config(config).binding())
        binding = ConfigRecord(echo)
        content = RecordDict({"release": ArrayRecord([outcome.payload]), BINDING: binding})
        return Message(content=content, reply_to=message)

    def secure_round_client(self, context: Context) -> Client:
        return _SecureRoundClient(self, context).to_client()

    def route_round(
        self, message: Message, context: Context, call_next: ClientAppCallable
    ) -> Message:
        """A mod: SecAgg+ rounds go through Flower's secaggplus_mod, plain ones to ``train``."""
        if RECORD_KEY_CONFIGS in message.content.config_records:
            return secaggplus_mod(message, context, call_next)
        return self.train(message, context)

    def client_app(self) -> ClientApp:
        return ClientApp(client_fn=self.secure_round_client, mods=[self.route_round])


class _SecureRoundClient(NumPyClient):
    """A SecAgg+ round: ``secaggplus_mod`` masks what ``fit`` returns before it leaves."""

    def __init__(self, rounds: DeviceRounds, context: Context) -> None:
        self._rounds = rounds
        self._context = context

    def fit(
        self, parameters: Arrays, config: dict[str, bool | bytes | float | int | str]
    ) -> tuple[list[npt.NDArray[np.float64]], int, dict[str, bool | bytes | float | int | str]]:
        outcome = self._rounds.round(self._context, parameters, config)
        return [outcome.payload], 1, {}
