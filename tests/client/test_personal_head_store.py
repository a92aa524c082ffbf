"""The sealed `heads` table: a head round-trips, and stores made before it gain it only
after a correct passphrase (a wrong one still changes nothing on disk)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from client.personal_head import TABLE, new_personal_head
from client.profile import Profile
from client.store.errors import WrongPassphraseError
from tests.conftest import PASSPHRASE, fast_kdf


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}


def _as_an_older_store(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(f"DROP TABLE {TABLE}")
    assert TABLE not in _tables(path)


def test_a_head_round_trips_sealed(profile: Profile) -> None:
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, np.float32)]
    head = new_personal_head(b"onnx bytes", weights, {"hidden_dim": 64}, signals=9)
    profile.heads.save(head)
    loaded = profile.heads.load()
    assert loaded is not None
    assert (loaded.onnx, loaded.signals, loaded.config) == (b"onnx bytes", 9, {"hidden_dim": 64})
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, weights, strict=True))
    assert b"onnx bytes" not in profile.store.path.read_bytes()


def test_an_older_store_gains_the_table_only_after_the_right_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "old.fpstore"
    Profile.create(path, PASSPHRASE, kdf=fast_kdf()).close()
    _as_an_older_store(path)
    with pytest.raises(WrongPassphraseError):
        Profile.open(path, "not the passphrase")
    assert TABLE not in _tables(path)
    with Profile.open(path, PASSPHRASE) as profile:
        assert profile.heads.load() is None
        assert not profile.heads.exists()
        assert profile.store.verify().ok
    assert TABLE in _tables(path)
