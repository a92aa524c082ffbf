"""How a joined device's ClientApp opens its own store, and its own participation cap:
node config entries as Flower parses them, the passphrase from the environment only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flwr.app import Context, RecordDict
from flwr.common.config import parse_config_args

from client.client_app import DeviceRounds
from client.device_opener import (
    PASSPHRASE_ENV,
    DeviceConfigError,
    node_participation_cap,
    open_own_device,
    participation_cap_config,
    store_path_config,
)
from client.participation import ParticipationCapError
from client.profile import Profile
from client.store.errors import WrongPassphraseError
from models.reranking_head import HeadConfig, RerankingHead
from models.weights import get_weights
from protocol.round_instructions import RoundInstructions
from tests.conftest import PASSPHRASE, fast_kdf


def test_node_config_entries_come_back_from_flowers_own_parser(tmp_path: Path):
    store = tmp_path / "my files" / "me.fpstore"  # a space, as home folders have
    entries = f"{store_path_config(store)} {participation_cap_config(3)}"

    parsed = parse_config_args([entries])

    assert parsed == {"store-path": str(store.resolve()), "participation-cap": 3}
    assert node_participation_cap(parsed, None) == 3
    assert node_participation_cap({}, 5) == 5


@pytest.mark.parametrize("bad", [0, -1, True, "2"])
def test_a_bad_cap_in_the_node_config_is_refused_by_name(bad):
    with pytest.raises(DeviceConfigError, match="participation-cap"):
        node_participation_cap({"participation-cap": bad}, None)


def test_a_path_flower_cannot_quote_is_refused(tmp_path: Path):
    with pytest.raises(DeviceConfigError, match="contains a '"):
        store_path_config(tmp_path / "it's.fpstore")


def test_the_store_opens_with_the_passphrase_from_the_environment_only(
    store_path: Path, encoder_cache: Path, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()).close()
    config = {"store-path": str(store_path)}

    with pytest.raises(DeviceConfigError, match=PASSPHRASE_ENV):
        open_own_device(config, environ={})
    with pytest.raises(WrongPassphraseError):
        open_own_device(config, environ={PASSPHRASE_ENV: "not it"})
    profile, embed = open_own_device(config, environ={PASSPHRASE_ENV: PASSPHRASE})
    with profile:
        assert profile.training.count() == 0
    assert embed(["hello"]).shape == (1, 384)


def test_the_nodes_own_cap_stops_a_round_the_server_did_not_cap(store_path: Path):
    Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()).close()
    head = HeadConfig()

    def embed(texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), head.embedding_dim), dtype=np.float32)

    rounds = DeviceRounds(lambda context: (Profile.open(store_path, PASSPHRASE), embed))
    context = Context(1, 7, {"participation-cap": 1}, RecordDict(), {})
    weights = get_weights(RerankingHead(head))
    config = RoundInstructions(round=1, clipping_norm=1.0, head=head, run_token="run").to_config()

    assert rounds.round(context, weights, config).payload.size > 0
    with pytest.raises(ParticipationCapError, match="cap of 1"):
        rounds.round(context, weights, {**config, "round": 2})
