"""How Flower's simulation runtime hands a round's messages to the simulated devices.

Flower 1.41's runtime (``flwr.server.superlink.fleet.vce.vce_api.add_messages_to_queue``)
polls every 0.1 s: for each of the run's nodes it asks the in-memory LinkState for that
node's first undelivered message, and each such call scans every stored message. With one
node per simulated device that is nodes x messages checks a pass: 1.2 s of CPU a pass at
1,000 devices and 150 a round here, about 12 s at 10,000, spent the whole round on one of
this machine's two cores beside the Ray worker that trains the devices
(docs/benchmarks.md, "Throughput through Flower").

``deliver_messages`` is that loop with one scan a pass: the same validity checks
(``_check_stored_messages``, which drops expired messages and ones between nodes no longer
in the federation), the same messages (each node's first undelivered one, in store order),
handed out in the same node order and marked delivered the same way. It reads the
LinkState's internals, so ``use_one_scan_delivery`` installs it only on the Flower release
it was written against (``CHECKED_FLOWER``); on any other the runtime keeps its own loop.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from queue import Queue

import flwr
from flwr.app import Message
from flwr.server.superlink.fleet.vce import vce_api
from flwr.server.superlink.linkstate import InMemoryLinkState, LinkState
from flwr.supercore.date import now

CHECKED_FLOWER = "1.41."
POLL_SECONDS = 0.1  # Flower's own interval


def delivery_order(nodes: Iterable[int]) -> dict[int, int]:
    """Node id -> its place in Flower's delivery order (the order of the run's nodes)."""
    return {node: i for i, node in enumerate(nodes)}


def undelivered_messages(state: InMemoryLinkState, rank: Mapping[int, int]) -> list[Message]:
    """Each node's first undelivered message, in ``rank`` order (``delivery_order``), now
    marked delivered: what ``state.get_message_ins(node_id=node, limit=1)`` for every node
    returns, in one scan of the stored messages instead of one scan per node."""
    first: dict[int, Message] = {}
    with state.lock:
        for message_id in list(state.message_ins_store):
            state._check_stored_messages({message_id})
            message = state.message_ins_store.get(message_id)
            if message is None or message.metadata.delivered_at != "":
                continue
            node = message.metadata.dst_node_id
            if node in rank and node not in first:
                first[node] = message
    delivered_at = now().isoformat()
    messages = [first[node] for node in sorted(first, key=rank.__getitem__)]
    for message in messages:
        message.metadata.delivered_at = delivered_at
    return messages


def deliver_messages(
    state: LinkState,
    queue: Queue[Message],
    nodes_mapping: dict[int, int],
    f_stop: threading.Event,
) -> None:
    """Flower's ``add_messages_to_queue``, same signature, one scan a pass."""
    nodes = list(nodes_mapping)
    rank = delivery_order(nodes)  # once a run: 1 ms a pass at 10,000 nodes otherwise
    while not f_stop.is_set():
        if isinstance(state, InMemoryLinkState):
            messages = undelivered_messages(state, rank)
        else:  # another LinkState: Flower's per-node calls
            messages = [m for node in nodes for m in state.get_message_ins(node_id=node, limit=1)]
        for message in messages:
            queue.put(message)
        f_stop.wait(POLL_SECONDS)


def use_one_scan_delivery() -> bool:
    """Install ``deliver_messages`` in Flower's simulation runtime when this is the Flower
    release it was checked against; returns whether it did."""
    if not flwr.__version__.startswith(CHECKED_FLOWER):
        return False
    vce_api.add_messages_to_queue = deliver_messages
    return True
