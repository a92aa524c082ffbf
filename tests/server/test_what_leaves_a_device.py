"""A real Flower simulation: capture every message the devices send and check what it holds."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
from flwr.clientapp import ClientApp
from flwr.simulation import run_simulation

from models.public_head import load_public_head
from models.reply_training import released_size
from privacy.clipping import l2_norm
from privacy.device_release import payload_size
from server.run_settings import RunSettings
from simulation.client_app import rounds as device_rounds
from simulation.populations import synthetic_population
from simulation.run_workspace import RUN_DIR_ENV, prepare_workspace
from simulation.server_app import app as server_app
from simulation.simulate import BACKEND_CONFIG
from tests.conftest import RAY, REPO_ROOT
from tests.server.message_capture import record_replies

# Starts Ray: one Ray simulation at a time (tests/conftest.py).
pytestmark = RAY


def test_devices_send_only_one_release_vector_clipped_to_c(tmp_path, encoder_cache, monkeypatch):
    capture = tmp_path / "captured"
    capture.mkdir()
    for name, value in (
        ("FEDPERSONA_CACHE_DIR", str(encoder_cache)),
        ("FEDPERSONA_CAPTURE_DIR", str(capture)),
        (RUN_DIR_ENV, str(tmp_path / "run")),
        ("PYTHONPATH", str(REPO_ROOT)),
    ):
        monkeypatch.setenv(name, value)
    settings = RunSettings(
        population="synthetic",
        clients=6,
        rounds=2,
        clients_per_round=3,
        sampling="fixed_size",
        epsilon=10.0,
        delta=1e-3,
        clipping_norm=0.5,
        local_epochs=1,
        secure_aggregation=False,  # plain rounds: what is sent in the clear
        secure_noise=False,
    )
    population = synthetic_population(6, seed=0)
    prepare_workspace(tmp_path / "run", settings, population)
    recording = ClientApp(mods=[record_replies])
    recording.train()(device_rounds.train)
    logging.getLogger("absl").setLevel(logging.ERROR)

    run_simulation(server_app, recording, num_supernodes=6, backend_config=BACKEND_CONFIG)

    entries = [json.loads(p.read_text()) for p in sorted(capture.iterdir())]
    assert len(entries) == 6  # 3 devices x 2 rounds, fixed-size sampling
    size = released_size(load_public_head().config)  # the term: all a device trains
    secrets = {str(value) for c in population.clients for _, _, value, _ in c.persona}
    for entry in entries:
        assert entry["records"] == ["binding", "release"]
        # The binding echoes the round's run id and number: nothing of the device's.
        assert sorted(entry["configs"]["binding"]) == ["round", "run-id"]
        assert entry["configs"]["binding"]["round"] in (1, 2)
        assert entry["metrics"] == {}  # no scalar in the clear: statistics are in the release
        ((dtype, shape, raw),) = entry["arrays"]["release"]
        assert (dtype, shape) == ("float64", [payload_size(size)])
        release = np.frombuffer(bytes.fromhex(raw), dtype=np.float64)
        assert l2_norm(release) <= 0.5  # update and statistics clipped together on the device
        serialised = json.dumps(entry)
        assert not any(s in serialised for s in secrets if len(s) > 6)
    assert os.environ[RUN_DIR_ENV] == str(tmp_path / "run")
