"""What Flower's SuperLink already refuses, before a reply reaches our ServerApp.

A device can only answer a message the SuperLink holds for it: the LinkState (in memory
for simulations, SQLite for the deployed SuperLink) drops a reply from a node the message
was not sent to (a device that was not sampled for the round), a reply that names another
run, and a reply to a message it no longer holds (a replay after the round consumed it).
Our own binding (``RoundInstructions.binding``) adds the check Flower cannot make: a fresh
reply that carries an earlier round's or another run's *content*.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from uuid import uuid4

import pytest
from flwr.app import ConfigRecord, Message, RecordDict
from flwr.common.constant import (
    HEARTBEAT_INTERVAL_INF,
    NOOP_ACCOUNT_NAME,
    NOOP_FLWR_AID,
    SUPERLINK_NODE_ID,
)
from flwr.server.superlink.linkstate import LinkState, LinkStateFactory
from flwr.supercore.constant import FLWR_IN_MEMORY_DB_NAME, NOOP_FEDERATION_ID
from flwr.supercore.object_store import ObjectStoreFactory
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.federation import NoOpFederationManager


def _state(database: str) -> LinkState:
    factory = LinkStateFactory(database, NoOpFederationManager(), ObjectStoreFactory())
    return factory.state()


def _node(state: LinkState) -> int:
    node = state.create_node(
        NOOP_FLWR_AID, NOOP_ACCOUNT_NAME, secrets.token_bytes(32), HEARTBEAT_INTERVAL_INF
    )
    state.acknowledge_node_heartbeat(node_id=node, heartbeat_interval=HEARTBEAT_INTERVAL_INF)
    return node


def _run(state: LinkState) -> int:
    return state.create_run(
        None, None, None, {}, NOOP_FEDERATION_ID, None, NOOP_FLWR_AID, "serverapp"
    )


def _with_ids(message: Message, **metadata: object) -> Message:
    """Stamp what the Grid or SuperNode would (a fresh id), plus any forged field."""
    for name, value in {"message_id": str(uuid4()), **metadata}.items():
        message.metadata.__dict__[f"_{name}"] = value
    return message


@pytest.fixture(params=["in-memory", "sqlite"])
def link(request, tmp_path, monkeypatch) -> tuple[LinkState, int, int, int]:
    """A LinkState with one run and two nodes, and a train message to the first node."""
    state = _state(
        FLWR_IN_MEMORY_DB_NAME if request.param == "in-memory" else str(tmp_path / "s.db")
    )
    run = _run(state)
    sampled, not_sampled = _node(state), _node(state)
    for name, value in (("_run_id", run), ("_node_id", SUPERLINK_NODE_ID), ("_task_id", 1)):
        monkeypatch.setattr(TaskIdentity, name, value)  # who creates a Message, as the Grid
    return state, run, sampled, not_sampled


def _instruction(state: LinkState, node: int) -> Message:
    content = RecordDict({"config": ConfigRecord({"round": 1})})
    message = _with_ids(Message(content, dst_node_id=node, message_type="train"))
    assert state.store_message_ins(message) is not None
    return message


def _reply(to: Message, **forged: object) -> Message:
    return _with_ids(Message(RecordDict(), reply_to=to), **forged)


def test_the_superlink_accepts_the_addressed_nodes_reply(link):
    state, _, sampled, _ = link
    sent = _instruction(state, sampled)

    assert state.store_message_res(_reply(sent)) is not None


@pytest.mark.parametrize(
    "forge",
    [
        lambda run, not_sampled: {"src_node_id": not_sampled},  # a node not sampled
        lambda run, not_sampled: {"run_id": run + 1},  # a reply for another run
    ],
    ids=["not-sampled-node", "other-run"],
)
def test_the_superlink_drops_a_reply_from_another_node_or_for_another_run(
    link, forge: Callable[[int, int], dict[str, object]]
):
    state, run, sampled, not_sampled = link
    sent = _instruction(state, sampled)

    assert state.store_message_res(_reply(sent, **forge(run, not_sampled))) is None


def test_the_superlink_drops_a_reply_to_a_message_it_no_longer_holds(link):
    state, _, sampled, _ = link
    sent = _instruction(state, sampled)
    state.delete_messages({sent.metadata.message_id})  # the round is over

    assert state.store_message_res(_reply(sent)) is None
