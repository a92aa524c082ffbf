"""Long-term items loaded through their sealed snapshot: same items, forgotten ones gone."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from client.memory import ITEMS, MemoryItem
from client.memory_snapshot import decode_items, encode_items, load_items
from client.profile import Profile
from client.store import TamperedRecordsError
from client.store.snapshot import TABLE, versions_of
from tests.client.store_writer import spawn_script
from tests.conftest import PASSPHRASE, fast_kdf, store_files

MARKER = "heron-cobalt-5521"


def _items(count: int, seed: int = 7) -> list[MemoryItem]:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, 8)).astype(np.float32)
    made = [
        MemoryItem(text=f"item {i} " + "w" * int(rng.integers(1, 30)), embedding=vectors[i])
        for i in range(count)
    ]
    made.append(MemoryItem(text="no vector yet"))  # an item without an embedding
    return made


def _same(loaded: list[MemoryItem], expected: list[MemoryItem]) -> None:
    assert [i.id for i in loaded] == [i.id for i in expected]
    for got, want in zip(loaded, expected, strict=True):
        assert got == want  # every field but the embedding
        if want.embedding is None:
            assert got.embedding is None
        else:
            assert got.embedding is not None
            assert np.array_equal(got.embedding, want.embedding)


def _snapshot_plaintext(profile: Profile) -> list[bytes]:
    assert profile.store.snapshots is not None
    return [chunk.body for chunk in profile.store.snapshots.chunks(ITEMS)]


def test_load_matches_the_records_before_and_after_the_snapshot_exists(profile):
    profile.memory.restore_items(_items(30))
    expected = profile.memory.items()

    _same(load_items(profile.store), expected)  # from records; writes the snapshot
    assert profile.store.tables[TABLE].count() == 2  # one chunk and its manifest
    _same(load_items(profile.store), expected)  # from the snapshot


def test_changed_and_new_items_are_read_from_their_records(profile):
    items = _items(10)
    profile.memory.restore_items(items)
    load_items(profile.store)

    profile.memory.update_item(replace(items[3], text="changed text"))
    profile.memory.remember(MemoryItem(text="a new one", embedding=np.ones(8, np.float32)))

    _same(load_items(profile.store), profile.memory.items())
    assert profile.store.snapshots is not None
    chunks = profile.store.snapshots.chunks(ITEMS)
    current = versions_of(profile.store.transaction(), ITEMS)
    assert {i: v for c in chunks for i, v in zip(c.ids, c.versions, strict=True)} == current


def test_a_forgotten_items_text_and_vector_leave_the_snapshot(profile):
    items = _items(20)
    doomed = replace(items[5], text=f"{MARKER} is the secret")
    items[5] = doomed
    profile.memory.restore_items(items)
    load_items(profile.store)
    assert any(MARKER.encode() in body for body in _snapshot_plaintext(profile))

    profile.forget_item(doomed.id)

    assert doomed.embedding is not None
    vector = np.asarray(doomed.embedding, dtype="<f4").tobytes()
    for body in _snapshot_plaintext(profile):
        assert MARKER.encode() not in body
        assert vector not in body
    loaded = load_items(profile.store)
    assert doomed.id not in {i.id for i in loaded}
    for body in _snapshot_plaintext(profile):  # rewritten from what is left
        assert MARKER.encode() not in body
    assert len(loaded) == len(items) - 1


def test_forgetting_the_whole_tier_empties_the_snapshot(profile):
    profile.memory.restore_items(_items(10))
    load_items(profile.store)

    profile.forget_tier("memories")

    assert _snapshot_plaintext(profile) == []
    assert load_items(profile.store) == []


def _corrupt_chunk(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        record_id, body = conn.execute(
            f"SELECT id, ciphertext FROM {TABLE} WHERE id LIKE '%chunk%'"
        ).fetchone()
        altered = body[:40] + bytes([body[40] ^ 1]) + body[41:]
        conn.execute(f"UPDATE {TABLE} SET ciphertext = ? WHERE id = ?", (altered, record_id))


def test_a_tampered_snapshot_is_refused(store_path):
    with Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()) as profile:
        profile.memory.restore_items(_items(10))
        load_items(profile.store)
    _corrupt_chunk(store_path)

    with Profile.open(store_path, PASSPHRASE) as profile, pytest.raises(TamperedRecordsError):
        load_items(profile.store)


def test_a_row_deleted_behind_the_stores_back_is_noticed(store_path):
    with Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()) as profile:
        items = _items(10)
        profile.memory.restore_items(items)
        load_items(profile.store)
    with sqlite3.connect(store_path) as conn:
        conn.execute(f"DELETE FROM {ITEMS} WHERE id = ?", (items[2].id,))

    with (
        Profile.open(store_path, PASSPHRASE) as profile,
        pytest.raises(TamperedRecordsError) as raised,
    ):
        load_items(profile.store)
    assert raised.value.bad_ids == (items[2].id,)


def test_a_snapshot_is_not_written_over_rows_that_changed_since_they_were_read(profile):
    items = _items(5)
    profile.memory.restore_items(items)
    snapshots = profile.store.snapshots
    assert snapshots is not None
    read_before = versions_of(profile.store.transaction(), ITEMS)
    profile.forget_item(items[0].id)  # another writer, between the read and the write

    added = snapshots.write(
        ITEMS, keep=[], add=[([items[0].id], ["00"], b"x")], current=read_before
    )

    assert added == []
    assert _snapshot_plaintext(profile) == []


def test_chunk_bodies_round_trip_items_with_and_without_vectors():
    items = _items(3)

    _same(decode_items(encode_items(items)), items)


WRITER = """
import sys
from pathlib import Path
import numpy as np
from client.memory import MemoryItem
from client.memory_snapshot import load_items
from client.profile import Profile
from tests.conftest import PASSPHRASE

with Profile.open(Path(sys.argv[1]), PASSPHRASE) as profile:
    rng = np.random.default_rng(3)
    for batch in range(10_000):
        vectors = rng.standard_normal((20, 8)).astype(np.float32)
        made = [MemoryItem(text=f"batch {batch} item {i}", embedding=vectors[i]) for i in range(20)]
        profile.memory.restore_items(made)
        load_items(profile.store)  # rewrites the snapshot's loose chunk every time
        if batch % 3 == 2 and made:
            profile.forget_item(made[0].id)
            made = made[1:]
        print(" ".join(item.id for item in made), flush=True)
"""


def test_a_killed_writer_loses_no_item_and_leaves_a_usable_snapshot(store_path, tmp_path):
    Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()).close()
    writer = spawn_script(WRITER, [str(store_path)], tmp_path)
    assert writer.stdout is not None
    returned = [writer.stdout.readline().split() for _ in range(12)]
    writer.kill()
    writer.wait()
    assert all(returned)  # twelve batches were written before the kill

    with Profile.open(store_path, PASSPHRASE) as profile:
        loaded = load_items(profile.store)
        _same(loaded, profile.memory.items())
        assert {i for ids in returned for i in ids} <= {item.id for item in loaded}
        _same(load_items(profile.store), loaded)  # and the refreshed snapshot agrees


def test_a_chunk_from_another_version_of_the_record_still_loads():
    items = _items(2)
    body = encode_items(items)
    size = int.from_bytes(body[:4], "big")
    header = json.loads(body[4 : 4 + size])
    header["items"][0]["field_from_a_later_version"] = "x"  # unknown to this MemoryItem
    del header["items"][1]["meta"]  # written before meta existed
    changed = json.dumps(header).encode()

    loaded = decode_items(len(changed).to_bytes(4, "big") + changed + body[4 + size :])

    _same(loaded, items)


def test_the_snapshot_puts_no_plaintext_on_disk(store_path):
    items = _items(20)
    items[3] = replace(items[3], text=f"{MARKER} in a chunk")
    with Profile.create(store_path, PASSPHRASE, kdf=fast_kdf()) as profile:
        profile.memory.restore_items(items)
        load_items(profile.store)  # writes the chunks
        assert any(MARKER.encode() in body for body in _snapshot_plaintext(profile))
        on_disk = b"".join(path.read_bytes() for path in store_files(store_path))

    assert MARKER.encode() not in on_disk
    assert items[3].embedding is not None
    assert np.asarray(items[3].embedding, dtype="<f4").tobytes() not in on_disk
