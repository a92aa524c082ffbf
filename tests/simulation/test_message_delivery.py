"""simulation.message_delivery hands out what Flower's own per-node loop does, in one scan.

Each test builds two real in-memory LinkStates the way Flower's simulation does (a run, one
registered node per device, messages pushed through its InMemoryGrid) and compares Flower's
per-node calls on one with the one-scan delivery on the other. Node ids are random per
state, so messages are compared by their node's position and their content.
"""

from __future__ import annotations

import threading
from queue import Queue
from typing import cast

import flwr
import pytest
from flwr.app import ConfigRecord, Message, MessageType, RecordDict
from flwr.common.constant import SUPERLINK_NODE_ID
from flwr.proto.task_pb2 import Task
from flwr.server.superlink.fleet.vce import vce_api
from flwr.server.superlink.linkstate import InMemoryLinkState, LinkStateFactory
from flwr.server.superlink.linkstate.in_memory_linkstate import RunRecord
from flwr.supercore.constant import FLWR_IN_MEMORY_DB_NAME, NOOP_FEDERATION_ID
from flwr.supercore.object_store import ObjectStoreFactory
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.federation import NoOpFederationManager
from flwr.superlink.grid.inmemory_grid import InMemoryGrid

from simulation import message_delivery
from simulation.message_delivery import deliver_messages, delivery_order, undelivered_messages

RUN_ID, TASK_ID = 7, 3
NODES = 40
# (node position, message number): node 5 gets two messages, node 0 none
SENT = [(5, 0), (12, 1), (5, 2), (39, 3), (1, 4), (20, 5)]


@pytest.fixture(autouse=True)
def _grid_identity(monkeypatch):
    # Who creates a Message, as run_simulation sets it for its Grid (restored after each test).
    for name, value in (("_run_id", RUN_ID), ("_node_id", SUPERLINK_NODE_ID), ("_task_id", 1)):
        monkeypatch.setattr(TaskIdentity, name, value)


def _state(sent=SENT, ttl: float | None = None) -> tuple[InMemoryLinkState, list[int]]:
    factory = LinkStateFactory(
        FLWR_IN_MEMORY_DB_NAME, NoOpFederationManager(), ObjectStoreFactory()
    )
    state = cast(InMemoryLinkState, factory.state())
    run = Run.create_empty(run_id=RUN_ID)
    run.primary_task_id = TASK_ID
    run.federation_id = NOOP_FEDERATION_ID
    state.run_ids[RUN_ID] = RunRecord(run=run)
    state.task_store[TASK_ID] = Task(task_id=TASK_ID, run_id=RUN_ID)
    nodes = list(vce_api._register_nodes(NODES, factory))
    grid = InMemoryGrid(state_factory=factory)
    grid.set_run(run)
    messages = []
    for position, number in sent:
        content = RecordDict({"round": ConfigRecord({"number": number})})
        message = Message(content, dst_node_id=nodes[position], message_type=MessageType.TRAIN)
        if ttl is not None:
            message.metadata.ttl = ttl
        messages.append(message)
    grid.push_messages(messages)
    return state, nodes


def _seen(messages: list[Message], nodes: list[int]) -> list[tuple[int, int]]:
    return [
        (
            nodes.index(m.metadata.dst_node_id),
            cast(int, m.content.config_records["round"]["number"]),
        )
        for m in messages
    ]


def _flowers_pass(state: InMemoryLinkState, nodes: list[int]) -> list[Message]:
    return [m for node in nodes for m in state.get_message_ins(node_id=node, limit=1)]


def test_each_pass_hands_out_what_flowers_per_node_calls_do():
    flowers, flower_nodes = _state()
    ours, our_nodes = _state()

    for _ in range(3):  # node 5's second message waits for the second pass in both
        expected = _seen(_flowers_pass(flowers, flower_nodes), flower_nodes)
        assert _seen(undelivered_messages(ours, delivery_order(our_nodes)), our_nodes) == expected

    fresh, fresh_nodes = _state()
    first = _seen(undelivered_messages(fresh, delivery_order(fresh_nodes)), fresh_nodes)
    assert first == [(1, 4), (5, 0), (12, 1), (20, 5), (39, 3)]  # node order, first of each
    assert all(m.metadata.delivered_at for m in ours.message_ins_store.values())


def test_expired_messages_are_dropped_not_delivered_in_both():
    flowers, flower_nodes = _state(ttl=1e-9)
    ours, our_nodes = _state(ttl=1e-9)

    assert _flowers_pass(flowers, flower_nodes) == []
    assert undelivered_messages(ours, delivery_order(our_nodes)) == []
    assert flowers.message_ins_store == {}
    assert ours.message_ins_store == {}


def test_the_runtime_loop_queues_every_message_once_and_stops_when_told():
    state, nodes = _state()
    queue: Queue[Message] = Queue()
    stop = threading.Event()
    loop = threading.Thread(
        target=deliver_messages, args=(state, queue, {n: i for i, n in enumerate(nodes)}, stop)
    )
    loop.start()
    got = [queue.get(timeout=30) for _ in SENT]
    stop.set()
    loop.join(timeout=30)

    assert not loop.is_alive()
    assert sorted(number for _, number in _seen(got, nodes)) == [n for _, n in SENT]
    assert queue.empty()


def test_it_replaces_flowers_loop_only_on_the_checked_release(monkeypatch):
    original = vce_api.add_messages_to_queue
    monkeypatch.setattr(vce_api, "add_messages_to_queue", original)  # restored after the test
    monkeypatch.setattr(flwr, "__version__", "1.99.0")
    assert not message_delivery.use_one_scan_delivery()
    assert vce_api.add_messages_to_queue is original

    monkeypatch.setattr(flwr, "__version__", "1.41.0")
    assert message_delivery.use_one_scan_delivery()
    assert vce_api.add_messages_to_queue is deliver_messages


def test_this_environment_runs_the_checked_release():
    # A Flower upgrade must re-check message_delivery against the new runtime.
    assert flwr.__version__.startswith(message_delivery.CHECKED_FLOWER)
