"""Link maintenance: each new item links to its most related items, on both ends.

Links are symmetric (the store keeps them on both items, so forgetting an item can
remove every link to it; see ``client.memory``). Without a cap, an item that resembles
many others would gather hundreds of links and drag them all into every retrieval, so
each item keeps at most ``2 * link_count`` links: when a new link pushes an item over,
its least similar link is removed on both ends. Refreshing happens as items arrive.
"""

from __future__ import annotations

from client.memory import Memory
from client.memory_engine.index import MemoryIndex


def link_new_item(memory: Memory, index: MemoryIndex, item_id: str, link_count: int) -> list[str]:
    """Link indexed ``item_id`` to its ``link_count`` nearest items; returns the linked ids."""
    if link_count <= 0:
        return []
    nearest = index.nearest(index.vector(item_id), link_count, exclude=item_id)
    linked = [other for other, _ in nearest]
    for other in linked:
        memory.link(item_id, other)
        index.entry(item_id).links.add(other)
        index.entry(other).links.add(item_id)
    for other in linked:
        _prune(memory, index, other, 2 * link_count)
    return linked


def _prune(memory: Memory, index: MemoryIndex, item_id: str, cap: int) -> None:
    entry = index.entry(item_id)
    while len(entry.links) > cap:
        vector = index.vector(item_id)
        weakest = min(entry.links, key=lambda other: float(index.vector(other) @ vector))
        memory.unlink(item_id, weakest)
        entry.links.discard(weakest)
        index.entry(weakest).links.discard(item_id)
