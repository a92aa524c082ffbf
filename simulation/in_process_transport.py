"""An in-process transport: each sampled simulated device runs its real round code here.

Same device code (client.federated_round) and same server loop as under Flower, minus the
runtime: used by tests and benchmarks that measure the algorithm, not Flower's overhead.
With ``secure_sum`` it returns what a SecAgg+ round reveals, the sum of the devices'
releases (update and statistics, each with its noise share), computed in the clear and
without SecAgg+'s quantisation (an unbiased error far below the noise; the real protocol is
server.secure_aggregation, tested to unmask the same sum).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from client.federated_round import run_round
from client.participation import ParticipationCapError
from client.profile import Profile
from privacy.noise import GaussianNoise
from privacy.secure_aggregation import SecureSum
from protocol.round_instructions import RoundInstructions
from server.dp_fedavg import ClientReport
from simulation.run_workspace import Workspace


class InProcessTransport:
    def __init__(
        self,
        workspace: Workspace,
        devices: int,
        noise: GaussianNoise,
        *,
        crash_on_round: int | None = None,
        secure_sum: bool = False,
    ) -> None:
        self._devices = workspace.devices
        self._count = devices
        self._embed = workspace.devices.embed_function()
        self._noise = noise
        self._crash_on_round = crash_on_round
        self._secure_sum = secure_sum

    def node_ids(self) -> list[int]:
        return list(range(self._count))

    def train(
        self,
        nodes: Sequence[int],
        weights: list[npt.NDArray[np.float32]],
        instructions: RoundInstructions,
    ) -> list[ClientReport] | SecureSum:
        if instructions.round == self._crash_on_round:
            raise RuntimeError("the server process died")
        reports = []
        for node in nodes:
            path, passphrase = self._devices.store_path(node), self._devices.passphrase(node)
            with Profile.open(path, passphrase) as profile:
                try:
                    outcome = run_round(profile, weights, instructions, self._embed, self._noise)
                except ParticipationCapError as refusal:  # as under Flower: an error reply
                    reports.append(ClientReport(None, error=str(refusal)))
                    continue
            reports.append(ClientReport(outcome.payload))
        if self._secure_sum:
            return _summed(reports)
        return reports


def _summed(reports: Sequence[ClientReport]) -> SecureSum:
    payloads = [r.payload for r in reports if r.payload is not None]
    return SecureSum(np.sum(payloads, axis=0), len(payloads), len(reports))
