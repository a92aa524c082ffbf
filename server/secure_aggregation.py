"""SecAgg+ rounds over Flower's Grid: the round loop gets only the sum of the updates.

Flower 1.41 offers SecAgg+ (Bell et al. 2020, "Secure Single-Server Aggregation with
(Poly)Logarithmic Overhead") only through its legacy API: ``SecAggPlusWorkflow`` drives the
protocol's four stages (setup, share keys, collect masked vectors, unmask) and hands the
unmasked mean to a legacy ``Strategy``. Here each round builds the workflow for the round's
sampled devices, a one-round strategy hands it those devices and keeps what it unmasks,
and the mean is turned back into the sum (every device weighs 1).

Two guards are added to the protocol. If fewer devices sent a masked vector than the
round's ``min-contributors``, the server stops *before* unmasking: their noise shares were
sized for at least that many, so a smaller sum would carry less noise than the ledger
accounts for; never unmasked, it reveals nothing. And a masked vector of the wrong shape
or type is left out (the device counts as dropped, with the reason) instead of stopping
the run with a numpy error. What the unmasked sum may be is checked afterwards
(``privacy.secure_sum_bounds``, via ``server.dp_fedavg``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from flwr.app import ArrayRecord, ConfigRecord, Context, Message
from flwr.common import (
    EvaluateIns,
    EvaluateRes,
    FitIns,
    FitRes,
    Parameters,
    Scalar,
    bytes_to_ndarray,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key
from flwr.server.client_manager import ClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.strategy import Strategy
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.server.workflow.secure_aggregation.secaggplus_workflow import WorkflowState
from flwr.serverapp import Grid

from models.reply_training import released_size
from privacy.device_release import payload_size
from privacy.secure_aggregation import (
    MIN_SECURE_ROUND,
    PAYLOAD_RANGE,
    SecureSum,
    halted_round,
    quantization_range,
)
from protocol.round_instructions import RoundInstructions
from server.flower_transport import REPLY_TIMEOUT_SECONDS, FlowerTransport


class SecureAggregationTransport:
    """The round loop's transport when ``secure_aggregation`` is on."""

    def __init__(
        self,
        grid: Grid,
        context: Context,
        *,
        expected_nodes: int,
        dropout_tolerance: float,
        reply_timeout: float = REPLY_TIMEOUT_SECONDS,
    ) -> None:
        self._grid = grid
        self._nodes = FlowerTransport(grid, expected_nodes=expected_nodes)
        self._context = context
        self._tolerance = dropout_tolerance
        self._timeout = reply_timeout

    def node_ids(self) -> list[int]:
        return self._nodes.node_ids()

    def train(
        self,
        nodes: Sequence[int],
        weights: list[npt.NDArray[np.float32]],
        instructions: RoundInstructions,
    ) -> SecureSum:
        size = payload_size(released_size(instructions.head))
        instructions = dataclasses.replace(instructions, run_id=str(self._context.run_id))
        strategy = OneRoundStrategy(
            self._grid, self._context.run_id, nodes, instructions.to_config()
        )
        context = LegacyContext(self._context, strategy=strategy)
        context.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord(
            {WorkflowKey.CURRENT_ROUND: instructions.round}
        )
        context.state.array_records[MAIN_PARAMS_RECORD] = ArrayRecord(list(weights))
        workflow = GuardedSecAggPlusWorkflow(
            min_contributors=instructions.min_contributors,
            vector_size=size,
            **protocol_parameters(len(nodes), self._tolerance),
            timeout=self._timeout,
        )
        workflow(self._grid, context)
        rejected = tuple(workflow.rejected)
        if strategy.mean is None:
            reason = workflow.halted or "the SecAgg+ protocol stopped (too few devices)"
            return dataclasses.replace(halted_round(size, len(nodes), reason), rejected=rejected)
        contributors = strategy.contributors
        return SecureSum(strategy.mean * contributors, contributors, len(nodes), rejected=rejected)


def protocol_parameters(devices: int, dropout_tolerance: float) -> dict[str, Any]:
    """SecAgg+'s share count, threshold and quantisation for one round of ``devices``.

    Each device secret-shares its keys with an odd number of neighbours, about 2 log2(n)
    of them (all of them in small rounds), and any ``threshold`` of those can reconstruct;
    the threshold stays above half the neighbours, as the protocol's security needs, and
    below their number (Flower's rule), and tolerates the configured share of dropouts.
    """
    if devices < MIN_SECURE_ROUND:
        raise ValueError(f"SecAgg+ needs at least {MIN_SECURE_ROUND} devices, got {devices}")
    neighbours = min(devices, 2 * math.ceil(math.log2(devices)) + 1)
    threshold = max(2, math.ceil(neighbours * (1 - dropout_tolerance)))
    return {
        "num_shares": neighbours,
        "reconstruction_threshold": min(threshold, neighbours - 1),
        "max_weight": 1.0,
        "clipping_range": PAYLOAD_RANGE,
        "quantization_range": quantization_range(devices),
        "modulus_range": 2**32,
    }


class GuardedSecAggPlusWorkflow(SecAggPlusWorkflow):
    """SecAgg+ that refuses to unmask a sum of fewer than ``min_contributors`` devices, and
    leaves out a masked vector that is not ``[weight factor ; vector_size values]``.

    Flower adds the masked vectors as they come; one of another shape would stop the whole
    run with a numpy error. Left out, the device counts as dropped out after the key
    exchange: SecAgg+ removes its masks with its neighbours' shares, and the round goes on.
    """

    def __init__(
        self, *, min_contributors: int, vector_size: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.min_contributors = min_contributors
        self.vector_size = vector_size
        self.halted: str | None = None
        self.rejected: list[str] = []

    def collect_masked_vectors_stage(
        self, grid: Grid, context: LegacyContext, state: WorkflowState
    ) -> bool:
        checked = _MaskedVectorCheck(grid, self.vector_size, self.rejected)
        if not super().collect_masked_vectors_stage(checked, context, state):  # type: ignore[arg-type]
            return False
        arrived = len(state.active_node_ids)
        if arrived < self.min_contributors:
            self.halted = (
                f"{arrived} masked vectors arrived, fewer than the {self.min_contributors} "
                "the noise shares were sized for; not unmasked"
            )
            return False
        return True


class _MaskedVectorCheck:
    """The Grid as the masked-vector stage sees it: malformed replies are left out."""

    def __init__(self, grid: Grid, vector_size: int | None, rejected: list[str]) -> None:
        self._grid = grid
        self._size = vector_size
        self._rejected = rejected

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> list[Message]:
        kept = []
        for reply in self._grid.send_and_receive(messages, timeout=timeout):
            reason = None if reply.has_error() else self._malformed(reply)
            if reason is None:
                kept.append(reply)
            else:
                self._rejected.append(f"node {reply.metadata.src_node_id}: {reason}")
        return kept

    def _malformed(self, reply: Message) -> str | None:
        try:
            record = reply.content.config_records[RECORD_KEY_CONFIGS]
            masked = cast(list[bytes], record[Key.MASKED_PARAMETERS])
            arrays = [bytes_to_ndarray(b) for b in masked]
        except (KeyError, TypeError, ValueError) as error:
            return f"no readable masked vector ({error})"
        shapes = [a.shape for a in arrays]
        if self._size is not None and shapes != [(1,), (self._size,)]:
            return f"a masked vector of shapes {shapes}, not [(1,), ({self._size},)]"
        if not all(a.dtype.kind in "iu" for a in arrays):
            return f"a masked vector of dtypes {[str(a.dtype) for a in arrays]}, not integers"
        return None


class OneRoundStrategy(Strategy):
    """A legacy strategy for one SecAgg+ round: fixed devices in, the unmasked mean out."""

    def __init__(
        self, grid: Grid, run_id: int, nodes: Sequence[int], config: dict[str, int | float | str]
    ) -> None:
        self._proxies = [GridClientProxy(node, grid, run_id) for node in nodes]
        self._config: dict[str, Scalar] = dict(config)
        self.mean: npt.NDArray[np.float64] | None = None
        self.contributors = 0

    def configure_fit(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, FitIns]]:
        return [(proxy, FitIns(parameters, self._config)) for proxy in self._proxies]

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Parameters | None, dict[str, Scalar]]:
        if not results:
            return None, {}
        # Every result carries the same unmasked mean; the per-device FitRes holds no
        # metrics and a weight of 1 (client.client_app sends nothing else in the clear).
        (mean,) = parameters_to_ndarrays(results[0][1].parameters)
        self.mean = np.asarray(mean, np.float64)
        self.contributors = len(results)
        return ndarrays_to_parameters([mean]), {}

    def initialize_parameters(self, client_manager: ClientManager) -> Parameters | None:
        return None

    def configure_evaluate(
        self, server_round: int, parameters: Parameters, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, EvaluateIns]]:
        return []

    def aggregate_evaluate(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, EvaluateRes]],
        failures: list[tuple[ClientProxy, EvaluateRes] | BaseException],
    ) -> tuple[float | None, dict[str, Scalar]]:
        return None, {}

    def evaluate(
        self, server_round: int, parameters: Parameters
    ) -> tuple[float, dict[str, Scalar]] | None:
        return None
