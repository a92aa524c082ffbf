"""Hostile and faulty devices for the real-Flower tests (test-only: no production flag).

A plan says which device misbehaves in which round: ``$FEDPERSONA_HOSTILE`` holds JSON
``{"<partition-id>": {"<round>": "<behaviour>"}}`` and ``$FEDPERSONA_HOSTILE_DIR`` a folder
where devices keep what they sent, for replays. The simulation runs ClientApps in worker
processes, so the plan travels in the environment, like ``tests.server.message_capture``.

Plain rounds (``hostile_replies``, a mod that rewrites the honest reply):
  nan, wrong-shape, huge (norm 1e12), replay (its own reply of the previous round),
  other-run (its binding names another run), crash (no reply: an error).
SecAgg+ rounds: ``HostileSecureClient`` changes the release *before* it is masked
(huge-finite: a large but finite update; nan; wrong-shape), and ``hostile_replies``
replays the previous round's masked vector or crashes in the masked-vector stage.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.client import Client, NumPyClient
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import Scalar
from flwr.common.secure_aggregation.secaggplus_constants import RECORD_KEY_CONFIGS, Key, Stage

from protocol.round_instructions import BINDING
from simulation.client_app import rounds as device_rounds

PLAN_ENV, KEEP_ENV = "FEDPERSONA_HOSTILE", "FEDPERSONA_HOSTILE_DIR"
HUGE_FINITE = 50.0  # within SecAgg+'s [-1024, 1024] per coordinate, far above any C


def behaviour(context: Context, round_number: int) -> str | None:
    plan = json.loads(os.environ.get(PLAN_ENV, "{}"))
    device = str(context.node_config["partition-id"])
    act = plan.get(device, {}).get(str(round_number))
    return None if act is None else str(act)


def _round_of(message: Message) -> int | None:
    if message.metadata.group_id:  # SecAgg+ messages carry the round as their group
        return int(message.metadata.group_id)
    config = message.content.config_records.get("config")
    return None if config is None else int(config["round"])  # type: ignore[arg-type]


def _kept(context: Context, round_number: int) -> Path:
    device = context.node_config["partition-id"]
    return Path(os.environ[KEEP_ENV]) / f"{device}-{round_number}.json"


def hostile_replies(message: Message, context: Context, call_next: ClientAppCallable) -> Message:
    round_number = _round_of(message)
    act = None if round_number is None else behaviour(context, round_number)
    secure = message.content.config_records.get(RECORD_KEY_CONFIGS)
    stage = None if secure is None else secure.get(Key.STAGE)
    if act == "crash" and stage in (None, Stage.COLLECT_MASKED_VECTORS):
        raise RuntimeError("hostile device: crashed mid-round")
    reply = call_next(message, context)
    if round_number is None or reply.has_error():
        return reply
    if secure is not None:
        if stage == Stage.COLLECT_MASKED_VECTORS:
            _masked_vector(reply, context, round_number, act)
        return reply
    return _plain(reply, message, context, round_number, act)


def _masked_vector(reply: Message, context: Context, round_number: int, act: str | None) -> None:
    """Keep this round's masked vector; a replaying device sends the previous one instead."""
    record = reply.content.config_records[RECORD_KEY_CONFIGS]
    masked = record[Key.MASKED_PARAMETERS]
    _kept(context, round_number).write_text(json.dumps([b.hex() for b in masked]))  # type: ignore[union-attr]
    if act == "replay":
        earlier = json.loads(_kept(context, round_number - 1).read_text())
        record[Key.MASKED_PARAMETERS] = [bytes.fromhex(b) for b in earlier]


def _plain(
    reply: Message, message: Message, context: Context, round_number: int, act: str | None
) -> Message:
    release = reply.content.array_records["release"].to_numpy_ndarrays()[0].copy()
    binding = dict(reply.content.config_records[BINDING])
    _kept(context, round_number).write_text(json.dumps([release.tolist(), binding]))
    if act == "nan":
        release[0] = np.nan
    elif act == "wrong-shape":
        release = release[:-1]
    elif act == "huge":
        release = release * 1e12 / max(float(np.linalg.norm(release)), 1e-12)
    elif act == "other-run":
        binding["run-id"] = "another-run"
    elif act == "replay":
        values, binding = json.loads(_kept(context, round_number - 1).read_text())
        release = np.asarray(values, np.float64)
    content = RecordDict({"release": ArrayRecord([release]), BINDING: ConfigRecord(binding)})
    return Message(content=content, reply_to=message)


class HostileSecureClient(NumPyClient):
    """A device whose release is tampered with before SecAgg+ masks it."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def fit(
        self, parameters: list[npt.NDArray[np.float32]], config: dict[str, Scalar]
    ) -> tuple[list[npt.NDArray[np.float64]], int, dict[str, Scalar]]:
        payload = device_rounds.round(self._context, parameters, config).payload.copy()
        act = behaviour(self._context, int(config["round"]))
        if act == "huge-finite":
            payload[: payload.size // 2] = HUGE_FINITE
        elif act == "nan":
            payload[0] = np.nan
        elif act == "wrong-shape":
            payload = payload[:-1]
        return [payload], 1, {}


def hostile_secure_client(context: Context) -> Client:
    return HostileSecureClient(context).to_client()


def hostile_app() -> ClientApp:
    """The simulation's ClientApp with the hostile plan applied (plain and SecAgg+ rounds)."""
    return ClientApp(
        client_fn=hostile_secure_client, mods=[hostile_replies, device_rounds.route_round]
    )
