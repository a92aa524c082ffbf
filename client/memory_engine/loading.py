"""Unlock-time loading: the long-term items, decrypted once, into a new in-memory index.

Items come through the sealed snapshot (client.memory_snapshot), so only those written or
changed since it was last refreshed are opened one record at a time. Python's cyclic
garbage collector is paused while the objects are built: building 100k items and index
entries triggers full collections that walk every live object again and again (about a
quarter of the load time at 100k items, more in a process that already holds much),
and none of these objects is garbage. The BM25 and approximate indexes sealed at the
last save come back with the rows when they were built over exactly these rows
(client.memory_engine.sealed_index); otherwise they are built at the first search.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from client.memory_engine.index import MemoryIndex
from client.memory_engine.sealed_index import restore_search_index
from client.memory_engine.writer import entry_of
from client.memory_snapshot import load_items
from client.store import EncryptedStore


def load_index(store: EncryptedStore, dimension: int) -> MemoryIndex:
    """An index of every long-term item whose embedding has ``dimension`` entries."""
    index = MemoryIndex(dimension)
    with _collector_paused():
        indexed = [
            (entry_of(item), item.embedding)
            for item in load_items(store)
            if item.embedding is not None and item.embedding.shape[0] == dimension
        ]
        if indexed:
            index.add_many([e for e, _ in indexed], np.stack([v for _, v in indexed]))
        restore_search_index(store, index)  # its allocations would start full collections too
    return index


@contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
