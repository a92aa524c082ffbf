"""What leaves a device, proved on the wire: a real SuperLink and SuperNodes on loopback,
a recording TCP proxy in front of the SuperLink's Fleet API, and every byte the SuperNodes
send searched for what their stores hold.

Each device's store is seeded with a persona line and memories nobody else has, and with
embeddings of its own. Asserted, in plain (central DP) and SecAgg+ rounds:

* no persona text, no memory text, no turn text crosses (UTF-8, as any string would);
* no stored embedding crosses: no run of four consecutive values of any of the device's
  persona-fact, memory or training-text embeddings, as float32 or as float64;
* no per-device metric crosses under a name: the names of the device's statistics
  (``privacy.device_release.STATISTICS``) and of the server's per-round metrics never
  appear. Under plain central DP the statistics do cross by design, but only as the last
  values of the one clipped release vector (five numbers scaled into [0, s], clipped with
  the update to C; ``tests/server/test_what_leaves_a_device.py`` decodes that vector);
  under SecAgg+ only masked integers cross.

The capture cannot pass vacuously: the proxy must have carried the devices' traffic (as
many bytes as the releases take), and a string the devices do send in the clear must be
found (plain rounds: the run id they echo; SecAgg+: the protocol's own field names).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from flwr.common.secure_aggregation.secaggplus_constants import Key as SecAggKey

from client.memory import MemoryItem, Turn
from client.persona import persona_fact
from client.profile import Profile
from models.public_head import load_public_head
from models.reply_training import released_size
from privacy.device_release import STATISTICS, payload_size
from server.metrics_store import MetricsStore
from server.run_settings import RunSettings
from simulation.deployment import LocalDeployment, free_port
from simulation.populations import PopulationData, synthetic_population
from simulation.run_workspace import Workspace, prepare_workspace
from tests.conftest import REPO_ROOT, SECOND_DEPLOYMENT
from tests.simulation.tcp_proxy import RecordingProxy

# Starts a local deployment: at most two at once (tests/conftest.py).
pytestmark = SECOND_DEPLOYMENT

DEVICES = 3
PER_DEVICE_METRICS = (*STATISTICS, "eval_hits_at_1", "fraction_clipped", "update_norm")


def _persona_line(device: int) -> str:
    return f"keeps a pet axolotl named Quillfeather{device} in Tromsø"


def _memory_lines(device: int) -> tuple[str, str]:
    return (
        f"my locker code at the Vauxhall climbing gym is 58{device}19",
        f"told Dr Okonkwo-Lindqvist{device} about the migraine on Tuesday",
    )


def _population() -> PopulationData:
    """The synthetic users, each with one persona line nobody else has."""
    population = synthetic_population(DEVICES, seed=0)
    clients = tuple(
        dataclasses.replace(
            client,
            persona=(*client.persona, ("statements", "pet", _persona_line(i), "core")),
        )
        for i, client in enumerate(population.clients)
    )
    return dataclasses.replace(population, clients=clients)


def _seed_memories(workspace: Workspace) -> dict[int, list[np.ndarray]]:
    """Each device remembers its two lines (with embeddings of its own) and a turn; returns
    every embedding each device holds: memories, persona facts and training texts."""
    embed = workspace.devices.embed_function()
    held: dict[int, list[np.ndarray]] = {}
    for device in range(DEVICES):
        rng = np.random.default_rng(100 + device)
        devices = workspace.devices
        with Profile.open(devices.store_path(device), devices.passphrase(device)) as profile:
            vectors = [rng.normal(size=384).astype(np.float32) for _ in range(2)]
            for text, vector in zip(_memory_lines(device), vectors, strict=True):
                profile.memory.remember(MemoryItem(text=text, embedding=vector))
            profile.memory.add_turn(
                Turn(session_id="s1", role="user", text=_memory_lines(device)[0])
            )
            facts = [persona_fact(a) for a in profile.persona.attributes()]
            texts = [p.context for p in profile.training.all()][:5]
        held[device] = vectors + list(embed(facts)) + list(embed(texts))
    return held


def _windows(vector: np.ndarray) -> list[bytes]:
    """Runs of four consecutive values, as float32 and float64, from across the vector."""
    runs = []
    for start in range(0, vector.size - 4, max(1, vector.size // 8)):
        values = vector[start : start + 4]
        runs += [values.astype(np.float32).tobytes(), values.astype(np.float64).tobytes()]
    return runs


@pytest.mark.parametrize("secure_aggregation", [False, True], ids=["plain", "secagg"])
def test_nothing_a_device_holds_crosses_the_wire(
    tmp_path, encoder_cache, monkeypatch, secure_aggregation
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = RunSettings(
        population="synthetic",
        clients=DEVICES,
        rounds=1,
        clients_per_round=DEVICES,
        sampling="fixed_size",
        epsilon=10.0,
        delta=1e-3,
        local_epochs=1,
        secure_aggregation=secure_aggregation,
    )
    workspace = prepare_workspace(tmp_path / "run", settings, _population())
    embeddings = _seed_memories(workspace)
    port = free_port()
    with RecordingProxy(("127.0.0.1", port)) as proxy:
        deployment = LocalDeployment(
            tmp_path / "deployment",
            supernodes=DEVICES,
            port=port,
            supernode_ports=[free_port() for _ in range(DEVICES)],
            fleet_address=proxy.address,
        )
        with deployment:
            result = deployment.run(REPO_ROOT, {"out": str(workspace.root)})
        sent = proxy.sent

    assert result.returncode == 0, result.stdout + result.stderr
    (row,) = MetricsStore(workspace.metrics_path).rounds()
    assert row["clients_completed"] == DEVICES  # every device took part, through the proxy
    # The proxy carried the devices' releases: at least 4 bytes per value per device.
    size = payload_size(released_size(load_public_head().config))
    assert proxy.connections >= DEVICES
    assert len(sent) > DEVICES * 4 * size
    if secure_aggregation:
        assert SecAggKey.MASKED_PARAMETERS.encode() in sent  # their plain field names show
    else:
        run_id = re.search(r"started run (\d+)", result.stdout + result.stderr)
        assert run_id is not None, result.stdout
        assert run_id.group(1).encode() in sent  # the run id they echo, in the clear
    for device in range(DEVICES):
        for text in (_persona_line(device), *_memory_lines(device), "Quillfeather"):
            assert text.encode() not in sent, f"device {device} sent {text!r}"
        for vector in embeddings[device]:
            assert not [run for run in _windows(vector) if run in sent]
    for name in PER_DEVICE_METRICS:
        assert name.encode() not in sent, f"a metric named {name!r} crossed"
