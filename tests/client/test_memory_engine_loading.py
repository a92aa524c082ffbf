"""Unlock-time loading of the engine's index from the store (through the sealed snapshot)."""

from __future__ import annotations

import gc

import numpy as np

from client.memory import MemoryItem
from client.memory_engine.loading import load_index
from client.profile import Profile
from tests.conftest import PASSPHRASE, fast_kdf


def test_the_index_holds_every_item_with_a_vector_of_its_size(store_path):
    rng = np.random.default_rng(2)
    good = [
        MemoryItem(text=f"kept {i}", embedding=rng.standard_normal(8).astype(np.float32))
        for i in range(5)
    ]
    odd = MemoryItem(text="another encoder's vector", embedding=np.ones(4, np.float32))
    bare = MemoryItem(text="not embedded yet")
    with Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()) as profile:
        profile.memory.restore_items([*good, odd, bare])

    for _ in range(2):  # from the records, then from the snapshot the first load wrote
        with Profile.open(store_path, PASSPHRASE) as profile:
            index = load_index(profile.store, 8)
        assert [e.id for e in index.entries()] == [item.id for item in good]
        for item in good:
            assert item.embedding is not None
            assert np.array_equal(index.vector(item.id), item.embedding)
        assert gc.isenabled()
