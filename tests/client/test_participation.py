"""The device keeps its own count of the rounds it joins per run, sealed in its store, and
refuses a round past the cap, whatever the server asks."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from client.federated_round import run_round
from client.participation import (
    ParticipationCapError,
    claim_participation,
    effective_cap,
    participations,
)
from client.profile import Profile
from client.store.errors import TamperedStoreError
from models.reranking_head import HeadConfig, RerankingHead
from models.weights import get_weights
from privacy.noise import SeededGaussian
from protocol.round_instructions import RoundInstructions
from tests.conftest import PASSPHRASE, store_files

RUN = "3f2a9c0d7e1b4a5c8d6e2f1a0b9c8d7e"


def test_a_device_refuses_the_round_past_its_cap_and_counts_per_run(profile: Profile):
    assert claim_participation(profile.store, RUN, cap=2) == 1
    assert claim_participation(profile.store, RUN, cap=2) == 2

    with pytest.raises(ParticipationCapError, match="cap of 2"):
        claim_participation(profile.store, RUN, cap=2)
    assert participations(profile.store, RUN) == 2  # a refusal is not counted
    assert claim_participation(profile.store, "another-run", cap=2) == 1


def test_the_count_survives_reopening_and_a_passphrase_change(profile: Profile, store_path):
    claim_participation(profile.store, RUN, cap=1)
    profile.store.change_passphrase("another passphrase")
    profile.close()

    with Profile.open(store_path, "another passphrase") as reopened:
        assert participations(reopened.store, RUN) == 1
        with pytest.raises(ParticipationCapError):
            claim_participation(reopened.store, RUN, cap=1)


def test_the_count_is_sealed_so_the_file_does_not_show_it(profile: Profile, store_path: Path):
    claim_participation(profile.store, RUN, cap=3)
    profile.close()

    with sqlite3.connect(store_path) as conn:
        (value,) = conn.execute("SELECT value FROM header WHERE name = 'sealed:participation'")
    assert RUN not in value[0]
    assert RUN.encode().hex() not in value[0]
    assert not any(RUN.encode() in file.read_bytes() for file in store_files(store_path))


def test_an_edited_count_is_detected(profile: Profile, store_path: Path):
    claim_participation(profile.store, RUN, cap=3)
    profile.close()
    with sqlite3.connect(store_path) as conn:
        (value,) = conn.execute("SELECT value FROM header WHERE name = 'sealed:participation'")
        flipped = ("1" if value[0][0] == "0" else "0") + value[0][1:]
        conn.execute("UPDATE header SET value = ? WHERE name = 'sealed:participation'", (flipped,))

    with (
        Profile.open(store_path, PASSPHRASE) as reopened,
        pytest.raises(TamperedStoreError, match="participation"),
    ):
        participations(reopened.store, RUN)


def test_the_device_cap_and_the_servers_the_smaller_wins():
    assert effective_cap(0, None) == 0
    assert effective_cap(3, None) == 3
    assert effective_cap(0, 2) == 2  # a server that asks for no cap still gets the device's
    assert effective_cap(5, 2) == 2
    with pytest.raises(ValueError, match="got 0"):
        effective_cap(1, 0)


def test_a_round_past_the_cap_releases_nothing(profile: Profile):
    head = HeadConfig()
    weights = get_weights(RerankingHead(head))
    instructions = RoundInstructions(
        round=1, clipping_norm=1.0, head=head, run_token=RUN, participation_cap=1
    )
    noise = SeededGaussian(np.random.default_rng(0))

    def embed(texts: list[str]) -> np.ndarray:
        return np.zeros((len(texts), head.embedding_dim), dtype=np.float32)

    first = run_round(profile, weights, instructions, embed, noise)

    assert first.payload.size > 0
    with pytest.raises(ParticipationCapError):
        run_round(profile, weights, instructions, embed, noise)
    with pytest.raises(ParticipationCapError):  # the device's own cap, the server asks none
        run_round(
            profile,
            weights,
            RoundInstructions(round=2, clipping_norm=1.0, head=head, run_token=RUN),
            embed,
            noise,
            device_cap=1,
        )
