"""Sealed bulk copies of a record table, so unlocking reads a few blobs instead of every row.

Opening N records costs N key unwraps, N AES-GCM opens and N parses; a device with 100k
long-term memories would wait half a minute before its first answer. A snapshot keeps the
same plaintexts (in whatever encoding the caller chooses) in a few large chunks, each an
ordinary sealed record of the ``snapshots`` table: its own data key, AES-GCM, the table's
keyed digest. Nothing about it is ever written unsealed.

Every entry carries the ``version`` of the row it was copied from (the nonce of the row's
wrapped data key, new at every ``put``), so a reader knows which entries are still current
and reads the others from their rows. The rows stay the truth; a snapshot only saves work.

Forgetting: when rows of a source table are deleted, every chunk that holds one of them is
deleted in the same transaction (``SealedTable.on_delete``), so a forgotten record's text
never survives in a snapshot, and its copy's data key is destroyed like the record's. A
replaced row's previous version stays in its chunk only until the chunk is next rewritten.

Derived copies: a record computed from a whole source table (a search index over its
rows, client.memory_engine.sealed_index) is kept beside the chunks under a name
(:meth:`Snapshots.put_derived`) and deleted with them whenever any row of the source is
deleted, since it may hold the deleted rows' words.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from client.store.database import Database
from client.store.errors import TamperedRecordsError
from client.store.sealed_table import SealedTable

TABLE = "snapshots"
_HEADER_BYTES = 4  # a chunk starts with the length of its JSON header


@dataclass(frozen=True)
class Chunk:
    """One opened chunk: the ids and versions it copies, and the caller's encoded body."""

    id: str
    ids: list[str]
    versions: list[str]
    body: bytes


class Snapshots:
    """Snapshots of the store's other record tables, held in the ``snapshots`` table."""

    def __init__(self, db: Database, table: SealedTable, sources: dict[str, SealedTable]) -> None:
        self._db = db
        self._table = table
        for name, source in sources.items():
            source.on_delete.append(partial(self.drop, name))

    def chunks(self, source: str) -> list[Chunk]:
        """Every chunk of ``source``'s snapshot, opened (raises TamperedRecordsError if altered)."""
        manifest = self._manifest(source)
        return [self._open_chunk(source, chunk_id) for chunk_id in manifest]

    def write(
        self,
        source: str,
        *,
        keep: Sequence[str],
        add: Sequence[tuple[list[str], list[str], bytes]],
        current: dict[str, str],
    ) -> list[str]:
        """Keep the chunks ``keep``, delete the others, add one chunk per ``(ids, versions,
        body)``; returns the new chunk ids.

        ``current`` is the source's id -> version as the caller read it. Run in one write
        transaction: when a row the new chunks copy changed or went since (another process),
        nothing is written, so a snapshot never copies a forgotten row.
        """
        with self._db.write():
            if versions_of(self._db, source) != current:
                return []
            manifest = self._manifest(source)
            dropped = [chunk_id for chunk_id in manifest if chunk_id not in keep]
            self._table.delete(dropped)
            added = []
            for number, (ids, versions, body) in enumerate(add, start=_next_number(manifest)):
                chunk_id = f"{source}:chunk:{number}"
                self._table.put(chunk_id, _encode_chunk(ids, versions, body))
                added.append(chunk_id)
            kept = {chunk_id: manifest[chunk_id] for chunk_id in keep if chunk_id in manifest}
            kept.update({chunk_id: ids for chunk_id, (ids, _, _) in zip(added, add, strict=True)})
            self._table.put(_manifest_id(source), json.dumps(kept).encode())
        return added

    def put_derived(self, source: str, name: str, body: bytes) -> None:
        """Seal ``body``, derived from ``source``'s rows, under ``name`` (replacing it)."""
        self._table.put(_derived_id(source, name), body)

    def derived(self, source: str, name: str) -> bytes | None:
        """What :meth:`put_derived` sealed, None if absent or dropped since; raises
        TamperedRecordsError if altered."""
        return self._table.get(_derived_id(source, name))

    def drop(self, source: str, ids: set[str]) -> None:
        """Delete every chunk of ``source`` that copies one of ``ids`` (their rows are gone),
        and every copy derived from ``source``."""
        derived = [i for i in self._table.ids() if i.startswith(_derived_id(source, ""))]
        if derived:
            self._table.delete(derived)
        if not self._table.contains(_manifest_id(source)):
            return
        with self._db.write():
            manifest = self._manifest(source)
            doomed = [chunk_id for chunk_id, held in manifest.items() if not ids.isdisjoint(held)]
            if not doomed:
                return
            self._table.delete(doomed)
            remaining = {k: v for k, v in manifest.items() if k not in doomed}
            self._table.put(_manifest_id(source), json.dumps(remaining).encode())

    def _manifest(self, source: str) -> dict[str, list[str]]:
        payload = self._table.get(_manifest_id(source))
        if payload is None:
            return {}
        manifest = json.loads(payload)
        if not isinstance(manifest, dict):
            raise ValueError(f"the {source} snapshot's manifest is not an object: {manifest!r}")
        return manifest

    def _open_chunk(self, source: str, chunk_id: str) -> Chunk:
        payload = self._table.get(chunk_id)
        if payload is None:  # listed but gone: rows dropped behind the digest's back
            raise TamperedRecordsError(
                f"the {source} snapshot lists {chunk_id}, which is missing",
                table_digest_mismatch=[TABLE],
            )
        size = int.from_bytes(payload[:_HEADER_BYTES], "big")
        header = json.loads(payload[_HEADER_BYTES : _HEADER_BYTES + size])
        return Chunk(
            id=chunk_id,
            ids=header["ids"],
            versions=header["versions"],
            body=payload[_HEADER_BYTES + size :],
        )


VERSION_BYTES = 12  # the AES-GCM nonce at the head of a wrapped key: random at every put


def versions_of(db: Database, source: str) -> dict[str, str]:
    """id -> version of every row of ``source``, in insertion order (no record is opened)."""
    rows = db.query(f"SELECT id, wrapped_key FROM {source} ORDER BY seq")
    return {str(i): bytes(w)[:VERSION_BYTES].hex() for i, w in rows}


def _encode_chunk(ids: list[str], versions: list[str], body: bytes) -> bytes:
    if len(ids) != len(versions):
        raise ValueError(f"a chunk needs one version per id: {len(ids)} ids, {len(versions)}")
    header = json.dumps({"ids": ids, "versions": versions}).encode()
    return len(header).to_bytes(_HEADER_BYTES, "big") + header + body


def _derived_id(source: str, name: str) -> str:
    return f"{source}:derived:{name}"


def _manifest_id(source: str) -> str:
    return f"{source}:manifest"


def _next_number(manifest: dict[str, list[str]]) -> int:
    return 1 + max((int(chunk_id.rsplit(":", 1)[1]) for chunk_id in manifest), default=0)
