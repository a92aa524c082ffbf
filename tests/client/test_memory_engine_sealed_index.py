"""The BM25 and approximate indexes sealed in the store between unlocks
(client.memory_engine.sealed_index): loaded only over the same rows, never unsealed on
disk, gone with a forgotten item, rebuilt when damaged."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from client.memory import ITEMS, MemoryItem
from client.memory_engine.loading import load_index
from client.memory_engine.sealed_index import (
    NAME,
    decode,
    restore_search_index,
    save_search_index,
)
from client.profile import Profile
from client.store.snapshot import TABLE
from tests.conftest import PASSPHRASE, fast_kdf, store_files

MARKER = "zorblax"  # its own Snapshot stem: BM25's vocabulary holds it as written
DIMENSION = 8


def _items(count: int, seed: int = 0) -> list[MemoryItem]:
    rng = np.random.default_rng(seed)
    words = ("beach", "guitar", "painting", "lisbon", "marathon", MARKER)
    items = []
    for i in range(count):
        vector = rng.standard_normal(DIMENSION).astype(np.float32)
        text = f"I talked about {words[i % len(words)]} and {words[(3 * i) % len(words)]} {i}"
        items.append(MemoryItem(text=text, embedding=vector / np.linalg.norm(vector)))
    return items


def _saved_store(store_path: Path, count: int = 60) -> np.ndarray:
    """A store whose sealed search index includes an approximate one; returns the query."""
    with Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()) as profile:
        profile.memory.restore_items(_items(count))
        index = load_index(profile.store, DIMENSION)
        index.ann_threshold = 0  # force the approximate index at this small size
        query = index.vector(index.at(0).id)
        index.dense_scores(query)  # builds it
        assert save_search_index(profile.store, index)
    return query


def test_a_saved_index_loads_at_the_next_unlock_and_answers_alike(store_path):
    query = _saved_store(store_path)
    with Profile.open(store_path, PASSPHRASE) as profile:
        index = load_index(profile.store, DIMENSION)
        restored = restore_search_index(profile.store, index)
        state = index.search_state()
    assert restored.loaded, restored.reason
    assert state.ann is not None
    assert len(state.ann) == 60
    with Profile.open(store_path, PASSPHRASE) as profile:
        rebuilt = load_index(profile.store, DIMENSION)
    rebuilt.restore_search_state(rebuilt.search_state())  # nothing restored: built now
    for text in (f"what about {MARKER}?", "the marathon in lisbon"):
        assert np.allclose(index.lexical_scores(text), rebuilt.lexical_scores(text))
    index.ann_threshold = 0
    assert index.nearest(query, 1)[0][0] == index.at(0).id


def test_an_index_over_other_rows_is_not_loaded(store_path):
    _saved_store(store_path)
    with Profile.open(store_path, PASSPHRASE) as profile:
        profile.memory.restore_items(_items(1, seed=9))  # a new item since the save
        index = load_index(profile.store, DIMENSION)
        restored = restore_search_index(profile.store, index)
    assert not restored.loaded
    assert restored.reason.startswith("stale")
    assert index.lexical_scores(MARKER).shape == (61,)


def test_the_sealed_index_puts_no_plaintext_on_disk(store_path):
    _saved_store(store_path)
    with Profile.open(store_path, PASSPHRASE) as profile:
        assert profile.store.snapshots is not None
        body = profile.store.snapshots.derived(ITEMS, NAME)
        assert body is not None
        assert MARKER.encode() in body
        _, state = decode(body)
        assert state.bm25 is not None
        assert MARKER in state.bm25.vocab_dict
        on_disk = b"".join(path.read_bytes() for path in store_files(store_path))
    assert MARKER.encode() not in on_disk


def test_forgetting_an_item_deletes_the_sealed_index(store_path):
    _saved_store(store_path)
    with Profile.open(store_path, PASSPHRASE) as profile:
        assert profile.store.snapshots is not None
        victim = profile.memory.items()[5].id
        profile.forget_item(victim)
        assert profile.store.snapshots.derived(ITEMS, NAME) is None
        index = load_index(profile.store, DIMENSION)
        assert victim not in index
        assert restore_search_index(profile.store, index).reason == "none saved"


def test_a_tampered_sealed_index_is_rebuilt_not_used(store_path):
    _saved_store(store_path)
    with sqlite3.connect(store_path) as conn:
        record_id, body = conn.execute(
            f"SELECT id, ciphertext FROM {TABLE} WHERE id LIKE '%derived%'"
        ).fetchone()
        altered = body[:60] + bytes([body[60] ^ 1]) + body[61:]
        conn.execute(f"UPDATE {TABLE} SET ciphertext = ? WHERE id = ?", (altered, record_id))
    with Profile.open(store_path, PASSPHRASE) as profile:
        index = load_index(profile.store, DIMENSION)
        restored = restore_search_index(profile.store, index)
        expected = sorted(e.id for e in index.entries() if MARKER in e.text)
        found = index.lexical_scores(MARKER)
    assert restored.reason.startswith("tampered")
    assert sorted(index.at(int(i)).id for i in np.flatnonzero(found > 0)) == expected


def test_a_sealed_index_that_does_not_fit_is_rebuilt(store_path):
    _saved_store(store_path)
    with Profile.open(store_path, PASSPHRASE) as profile:
        assert profile.store.snapshots is not None
        body = profile.store.snapshots.derived(ITEMS, NAME)
        assert body is not None
        profile.store.snapshots.put_derived(ITEMS, NAME, body[:-10])  # sealed, but cut short
        index = load_index(profile.store, DIMENSION)
        restored = restore_search_index(profile.store, index)
        scores = index.lexical_scores(MARKER)
    assert restored.reason.startswith("unusable")
    assert int((scores > 0).sum()) == sum(MARKER in e.text for e in index.entries())
