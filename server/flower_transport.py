"""Flower's Grid as the round loop's transport: one train message per sampled node.

The round's instructions go out with the run's id; a reply whose echoed binding is not
this run's and round's is discarded unread, with the reason (``RoundInstructions.binding``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    ConfigRecordValues,
    Message,
    MessageType,
    RecordDict,
)
from flwr.serverapp import Grid

from protocol.round_instructions import BINDING, RoundInstructions
from server.dp_fedavg import ClientReport

NODE_WAIT_SECONDS = 120.0
# A device that has not answered a round's message by then counts as dropped out; without
# a limit one dead SuperNode would stall the run forever.
REPLY_TIMEOUT_SECONDS = 600.0


class FlowerTransport:
    def __init__(
        self,
        grid: Grid,
        *,
        expected_nodes: int,
        run_id: str = "",
        reply_timeout: float = REPLY_TIMEOUT_SECONDS,
    ) -> None:
        self._grid = grid
        self._expected = expected_nodes
        self._run_id = run_id
        self._timeout = reply_timeout

    def node_ids(self) -> list[int]:
        """The connected nodes, once all expected ones have registered (or the wait ends)."""
        deadline = time.monotonic() + NODE_WAIT_SECONDS
        nodes = sorted(self._grid.get_node_ids())
        while len(nodes) < self._expected and time.monotonic() < deadline:
            time.sleep(0.2)
            nodes = sorted(self._grid.get_node_ids())
        if not nodes:
            raise RuntimeError(f"no client connected within {NODE_WAIT_SECONDS:.0f} s")
        return nodes

    def train(
        self,
        nodes: Sequence[int],
        weights: list[npt.NDArray[np.float32]],
        instructions: RoundInstructions,
    ) -> list[ClientReport]:
        if not nodes:
            return []
        instructions = dataclasses.replace(instructions, run_id=self._run_id)
        values: dict[str, ConfigRecordValues] = dict(instructions.to_config())
        content = RecordDict({"arrays": ArrayRecord(weights), "config": ConfigRecord(values)})
        messages = [
            Message(content=content, dst_node_id=node, message_type=MessageType.TRAIN)
            for node in nodes
        ]
        replies = list(self._grid.send_and_receive(messages, timeout=self._timeout))
        reports = [_report(reply, instructions) for reply in replies]
        reports += [ClientReport(None, error="no reply")] * (len(nodes) - len(replies))
        return reports


def _report(reply: Message, instructions: RoundInstructions) -> ClientReport:
    """A device's release; a reply bound to another run or round is not read."""
    if reply.has_error():
        return ClientReport(None, error=str(reply.error.reason))
    echoed = reply.content.config_records.get(BINDING)
    mismatch = instructions.binding_mismatch(None if echoed is None else dict(echoed))
    if mismatch is not None:
        return ClientReport(None, discarded=f"node {reply.metadata.src_node_id}: {mismatch}")
    payload = reply.content.array_records["release"].to_numpy_ndarrays()[0]
    return ClientReport(np.asarray(payload, np.float64))
