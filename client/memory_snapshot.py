"""Long-term memories read through their sealed snapshot (client.store.snapshot).

:func:`load_items` returns what ``Memory.items()`` returns, in the same order, but reads
the items that did not change since the snapshot was written from a few sealed chunks
(one JSON list and one float32 matrix per chunk) instead of opening every record. Items
written, changed or forgotten since then are read from their own records; when there
were any, the snapshot is brought up to date in one write transaction before returning,
so the next unlock reads chunks only. A chunk any of whose items changed is rewritten
with the items that are still current; small chunks are merged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from client.memory import ITEMS, MemoryItem
from client.records import Embedding, from_payload
from client.store import EncryptedStore, TamperedRecordsError
from client.store.snapshot import Chunk, versions_of

CHUNK_ITEMS = 4096  # ~6.5 MB of vectors a chunk at 384 dims: one forget rewrites at most this
_HEADER_BYTES = 4


@dataclass
class _Loaded:
    items: dict[str, MemoryItem]
    current_chunks: list[Chunk]  # chunks whose every item is current
    stale: bool = False  # some chunk holds an item that changed or went since


def load_items(store: EncryptedStore) -> list[MemoryItem]:
    """Every long-term item, in insertion order, reading the snapshot where it is current."""
    table = store.tables[ITEMS]
    if store.snapshots is None:  # a read-only store from before snapshots existed
        return [MemoryItem.from_json(from_payload(p)) for _, p in table.scan().records]
    db = store.transaction()
    with db.read():
        current = versions_of(db, ITEMS)
        loaded = _from_chunks(store.snapshots.chunks(ITEMS), current)
        from_records = [item_id for item_id in current if item_id not in loaded.items]
        for item_id in from_records:
            payload = table.get(item_id)
            if payload is not None:
                loaded.items[item_id] = MemoryItem.from_json(from_payload(payload))
    if (from_records or loaded.stale) and not db.read_only:
        _refresh(store, loaded, current)
    return [loaded.items[item_id] for item_id in current if item_id in loaded.items]


def _from_chunks(chunks: list[Chunk], current: dict[str, str]) -> _Loaded:
    loaded = _Loaded(items={}, current_chunks=[])
    for chunk in chunks:
        all_current = True
        items = decode_items(chunk.body)
        for item_id, version, item in zip(chunk.ids, chunk.versions, items, strict=True):
            if item_id not in current:
                # Deleting a row deletes every chunk copying it in the same transaction:
                # a copy without its row means rows were removed behind the store's back.
                raise TamperedRecordsError(
                    f"the {ITEMS} snapshot holds item {item_id}, whose record is missing",
                    bad_ids=[item_id],
                    table_digest_mismatch=[ITEMS],
                )
            if current[item_id] == version:
                loaded.items[item_id] = item
            else:
                all_current = False
        if all_current:
            loaded.current_chunks.append(chunk)
        loaded.stale = loaded.stale or not all_current
    return loaded


def _refresh(store: EncryptedStore, loaded: _Loaded, current: dict[str, str]) -> None:
    """Keep the full, current chunks; write everything else into new chunks."""
    assert store.snapshots is not None
    keep = [c for c in loaded.current_chunks if len(c.ids) >= CHUNK_ITEMS // 2]
    kept = {item_id for chunk in keep for item_id in chunk.ids}
    loose = [i for i in current if i not in kept and i in loaded.items]
    chunks = []
    for start in range(0, len(loose), CHUNK_ITEMS):
        ids = loose[start : start + CHUNK_ITEMS]
        body = encode_items([loaded.items[item_id] for item_id in ids])
        chunks.append((ids, [current[item_id] for item_id in ids], body))
    store.snapshots.write(ITEMS, keep=[c.id for c in keep], add=chunks, current=current)


def encode_items(items: list[MemoryItem]) -> bytes:
    """One chunk body: a JSON header (the items without vectors, each vector's length) and
    the vectors as one little-endian float32 array."""
    records = []
    lengths = []
    vectors = []
    for item in items:
        records.append({**item.to_json(), "embedding": None})
        lengths.append(-1 if item.embedding is None else int(item.embedding.shape[0]))
        if item.embedding is not None:
            vectors.append(np.asarray(item.embedding, dtype="<f4"))
    header = json.dumps({"items": records, "lengths": lengths}).encode()
    matrix = np.concatenate(vectors).tobytes() if vectors else b""
    return len(header).to_bytes(_HEADER_BYTES, "big") + header + matrix


def decode_items(body: bytes) -> list[MemoryItem]:
    """The items of a chunk body written by :func:`encode_items`."""
    size = int.from_bytes(body[:_HEADER_BYTES], "big")
    header = json.loads(body[_HEADER_BYTES : _HEADER_BYTES + size])
    flat = np.frombuffer(body, dtype="<f4", offset=_HEADER_BYTES + size).astype(np.float32)
    items = []
    offset = 0
    for data, length in zip(header["items"], header["lengths"], strict=True):
        vector = None if length < 0 else flat[offset : offset + length]
        offset += max(length, 0)
        items.append(_item(data, vector))
    return items


def _item(data: dict[str, Any], vector: Embedding | None) -> MemoryItem:
    """The item ``encode_items`` wrote from ``MemoryItem.to_json``.

    The chunk authenticated and was written from items that were checked when they were
    built, so the fields go straight to the constructor (half the load time at 20k items);
    a chunk written by another version of the record type takes ``from_json``'s checks.
    """
    try:
        return MemoryItem(**{**data, "links": tuple(data["links"]), "embedding": vector})
    except (TypeError, KeyError):
        item = MemoryItem.from_json(data)
        # Built on the line above and held by nothing else: set in place, no second __init__.
        object.__setattr__(item, "embedding", vector)
        return item
