"""The memory index's BM25 and approximate indexes, sealed in the store between unlocks.

Building them is most of the time from unlock to the first answer at 100k items (BM25
over every item's words, k-means for the approximate index). :func:`save_search_index`
seals what the index built into one derived record of the long-term items' snapshot
(client.store.snapshot: its own data key, AES-GCM, never written unsealed; deleted with
the snapshot's chunks whenever an item is forgotten, since it holds the items' words and
8-bit copies of their vectors). :func:`restore_search_index` hands it back at the next
unlock when it was built over exactly the index's rows: a fingerprint of every row's id
and record version (the wrapped key's nonce, new at every write of the row) is sealed with
it. Otherwise, or when the record does not open or does not fit, the index builds them
again as before: a persisted index saves work and is never the truth.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import bm25s  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt

from client.memory import ITEMS
from client.memory_engine.ann import AnnIndex
from client.memory_engine.index import MemoryIndex, SearchState
from client.store import EncryptedStore, TamperedRecordsError
from client.store.snapshot import versions_of

NAME = "search-index"
FORMAT = 1
_HEADER_BYTES = 4
_BM25_PARAMS = ("k1", "b", "delta", "method", "idf_method", "dtype", "int_dtype", "backend")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Restored:
    """What :func:`restore_search_index` did: ``loaded`` or why not (the index rebuilds)."""

    loaded: bool
    reason: str


def save_search_index(store: EncryptedStore, index: MemoryIndex) -> bool:
    """Seal the index's BM25 (built now if stale) and approximate index into the store.

    Returns False, writing nothing, when some row is not a stored item (its version, and so
    the fingerprint, is unknown) or the store has no snapshots (read-only, older format).
    """
    if store.snapshots is None or len(index) == 0:
        return False
    fingerprint = _fingerprint(store, index)
    if fingerprint is None:
        return False
    store.snapshots.put_derived(ITEMS, NAME, encode(index.search_state(), fingerprint))
    return True


def restore_search_index(store: EncryptedStore, index: MemoryIndex) -> Restored:
    """Give ``index`` the sealed BM25 and approximate index if they were built over its
    exact rows; else leave it to build them at its first search, and say why."""
    if store.snapshots is None or len(index) == 0:
        return Restored(False, "no snapshots or no rows")
    try:
        body = store.snapshots.derived(ITEMS, NAME)
    except TamperedRecordsError as error:  # the rows are the truth: rebuild from them
        logger.warning("the sealed search index failed authentication; rebuilding: %s", error)
        return Restored(False, f"tampered: {error}")
    if body is None:
        return Restored(False, "none saved")
    try:
        fingerprint, state = decode(body)
        if fingerprint != _fingerprint(store, index):
            return Restored(False, "stale: built over other rows")
        index.restore_search_state(state)
    except (ValueError, KeyError, RuntimeError) as error:  # faiss raises RuntimeError
        logger.warning("the sealed search index does not fit; rebuilding: %s", error)
        return Restored(False, f"unusable: {error}")
    return Restored(True, "loaded")


def _fingerprint(store: EncryptedStore, index: MemoryIndex) -> str | None:
    """SHA-256 over every row's id and record version, in row order; None if a row has
    no stored record."""
    versions = versions_of(store.transaction(), ITEMS)
    digest = hashlib.sha256()
    for entry in index.entries():
        version = versions.get(entry.id)
        if version is None:
            return None
        digest.update(f"{entry.id}\x00{version}\x00".encode())
    return digest.hexdigest()


def encode(state: SearchState, fingerprint: str) -> bytes:
    """One body: a JSON header (fingerprint, BM25 parameters and vocabulary, array
    layout) and the arrays' bytes."""
    arrays: dict[str, npt.NDArray[Any]] = {"labels": state.labels}
    header: dict[str, Any] = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "next_label": state.next_label,
    }
    if state.bm25 is not None:
        scores = state.bm25.scores
        arrays |= {f"bm25_{k}": scores[k] for k in ("data", "indices", "indptr")}
        header["bm25"] = {
            "params": {k: getattr(state.bm25, k) for k in _BM25_PARAMS},
            "num_docs": int(scores["num_docs"]),
            "vocab": state.bm25.vocab_dict,
        }
    if state.ann is not None:
        arrays["ann"] = np.frombuffer(state.ann.to_bytes(), dtype=np.uint8)
        header["ann_trained_size"] = state.ann.trained_size
    header["arrays"] = [[k, a.dtype.str, int(a.size)] for k, a in arrays.items()]
    head = json.dumps(header).encode()
    data = b"".join(np.ascontiguousarray(a).tobytes() for a in arrays.values())
    return len(head).to_bytes(_HEADER_BYTES, "big") + head + data


def decode(body: bytes) -> tuple[str, SearchState]:
    """The fingerprint and state :func:`encode` wrote; ValueError on another format."""
    size = int.from_bytes(body[:_HEADER_BYTES], "big")
    header = json.loads(body[_HEADER_BYTES : _HEADER_BYTES + size])
    if header.get("format") != FORMAT:
        raise ValueError(f"search index format {header.get('format')!r}, expected {FORMAT}")
    arrays: dict[str, npt.NDArray[Any]] = {}
    offset = _HEADER_BYTES + size
    for name, dtype, count in header["arrays"]:
        arrays[name] = np.frombuffer(body, dtype=np.dtype(dtype), count=count, offset=offset)
        offset += arrays[name].nbytes
    if offset != len(body):
        raise ValueError(f"search index body of {len(body)} bytes, its layout says {offset}")
    ann = None
    if "ann" in arrays:
        ann = AnnIndex.from_bytes(arrays["ann"].tobytes(), int(header["ann_trained_size"]))
    bm25 = _bm25(header["bm25"], arrays) if "bm25" in header else None
    labels = np.asarray(arrays["labels"], dtype=np.int64)
    return header["fingerprint"], SearchState(bm25, ann, labels, int(header["next_label"]))


def _bm25(meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> bm25s.BM25:
    """A bm25s index from its parts, as ``bm25s.BM25.load`` rebuilds one from files."""
    bm25 = bm25s.BM25(**meta["params"])
    bm25.vocab_dict = {str(k): int(v) for k, v in meta["vocab"].items()}
    bm25.unique_token_ids_set = set(bm25.vocab_dict.values())
    bm25.nonoccurrence_array = None
    if bm25.method in bm25.methods_requiring_nonoccurrence:
        raise ValueError(f"BM25 variant {bm25.method!r} is not persisted")
    bm25.scores = {
        "data": arrays["bm25_data"],
        "indices": arrays["bm25_indices"],
        "indptr": arrays["bm25_indptr"],
        "num_docs": int(meta["num_docs"]),
    }
    return bm25
