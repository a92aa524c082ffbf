"""The three memory tiers, each record sealed on its own.

- short-term: the latest chat turns, a bounded ring (oldest turns are forgotten, and
  their keys destroyed, as new ones arrive);
- session summaries: one per finished session;
- long-term items: facts, preferences and events with an embedding and links to related
  items (links are kept on both ends, so forgetting an item can remove every link to it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from client.records import (
    Embedding,
    RecordFormatError,
    decode_embedding,
    encode_embedding,
    field_of,
    from_payload,
    new_record_id,
    now,
    strings_of,
    to_payload,
)
from client.store import EncryptedStore

TURNS, SUMMARIES, ITEMS = "turns", "summaries", "memories"
DEFAULT_TURN_CAPACITY = 50
ROLES = ("user", "assistant")


@dataclass(frozen=True, kw_only=True)
class Turn:
    session_id: str
    role: str
    text: str
    at: float = field(default_factory=now)
    id: str = field(default_factory=new_record_id)
    speaker: str = ""  # the person's name where a conversation has several (optional)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "session_id": self.session_id,
            "role": self.role,
            "text": self.text,
            "at": self.at,
        }
        if self.speaker:
            data["speaker"] = self.speaker
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "turn") -> Turn:
        role = field_of(data, "role", str, where)
        if role not in ROLES:
            raise RecordFormatError(f"{where}.role: expected one of {ROLES}, got {role!r}")
        return cls(
            id=field_of(data, "id", str, where),
            session_id=field_of(data, "session_id", str, where),
            role=role,
            text=field_of(data, "text", str, where),
            at=float(field_of(data, "at", (int, float), where)),
            speaker=str(data.get("speaker", "")),
        )


@dataclass(frozen=True, kw_only=True)
class SessionSummary:
    session_id: str
    text: str
    turn_count: int = 0
    created_at: float = field(default_factory=now)
    id: str = field(default_factory=new_record_id)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "text": self.text,
            "turn_count": self.turn_count,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "summary") -> SessionSummary:
        return cls(
            id=field_of(data, "id", str, where),
            session_id=field_of(data, "session_id", str, where),
            text=field_of(data, "text", str, where),
            turn_count=int(field_of(data, "turn_count", int, where)),
            created_at=float(field_of(data, "created_at", (int, float), where)),
        )


@dataclass(frozen=True, kw_only=True)
class MemoryItem:
    """A long-term memory. ``embedding`` is a float32 vector (or None until embedded)."""

    text: str
    kind: str = "fact"
    source_session: str | None = None
    embedding: Embedding | None = field(default=None, compare=False)
    links: tuple[str, ...] = ()
    created_at: float = field(default_factory=now)
    updated_at: float = field(default_factory=now)
    id: str = field(default_factory=new_record_id)
    # Free-form text facts about the item (speaker, session date, the persona attribute it
    # supports, what superseded it); sealed with the item like everything else.
    meta: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "kind": self.kind,
            "source_session": self.source_session,
            "embedding": encode_embedding(self.embedding),
            "links": list(self.links),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "meta": dict(self.meta),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "memory") -> MemoryItem:
        source = data.get("source_session")
        if source is not None and not isinstance(source, str):
            raise RecordFormatError(f"{where}.source_session: expected text or null")
        return cls(
            id=field_of(data, "id", str, where),
            text=field_of(data, "text", str, where),
            kind=field_of(data, "kind", str, where),
            source_session=source,
            embedding=decode_embedding(data.get("embedding")),
            links=tuple(strings_of(data, "links", where)),
            created_at=float(field_of(data, "created_at", (int, float), where)),
            updated_at=float(field_of(data, "updated_at", (int, float), where)),
            meta=_meta_of(data.get("meta", {}), where),
        )


def _meta_of(meta: object, where: str) -> dict[str, str]:
    # Items written before ``meta`` existed have none: an empty mapping, not an error.
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise RecordFormatError(f"{where}.meta: expected an object of text values")
    return dict(meta)


class Memory:
    """The memory tiers of one unlocked store."""

    def __init__(
        self, store: EncryptedStore, *, turn_capacity: int = DEFAULT_TURN_CAPACITY
    ) -> None:
        if turn_capacity < 1:
            raise ValueError(f"turn_capacity must be positive, got {turn_capacity}")
        self._store = store
        self._turns = store.tables[TURNS]
        self._summaries = store.tables[SUMMARIES]
        self._items = store.tables[ITEMS]
        self.turn_capacity = turn_capacity

    # --- short-term turns -------------------------------------------------------------
    def add_turn(self, turn: Turn) -> Turn:
        """Append a turn; beyond capacity the oldest turns are forgotten in the same commit."""
        with self._store.transaction().write():
            self._turns.put(turn.id, to_payload(turn.to_json()))
            ids = self._turns.ids()
            if len(ids) > self.turn_capacity:
                self._turns.delete(ids[: len(ids) - self.turn_capacity])
        return turn

    def recent_turns(self, limit: int | None = None) -> list[Turn]:
        turns = [Turn.from_json(from_payload(p)) for _, p in self._turns.scan().records]
        return turns if limit is None else turns[-limit:]

    # --- session summaries ------------------------------------------------------------
    def add_summary(self, summary: SessionSummary) -> SessionSummary:
        self._summaries.put(summary.id, to_payload(summary.to_json()))
        return summary

    def summaries(self) -> list[SessionSummary]:
        return [
            SessionSummary.from_json(from_payload(p)) for _, p in self._summaries.scan().records
        ]

    # --- long-term items --------------------------------------------------------------
    def remember(self, item: MemoryItem) -> MemoryItem:
        """Store a long-term item and add the reverse of each of its links."""
        if item.embedding is not None and not np.all(np.isfinite(item.embedding)):
            raise ValueError("embedding contains NaN or infinity")
        with self._store.transaction().write():
            for other_id in item.links:
                other = self.get(other_id)
                if other is None:
                    raise KeyError(f"cannot link to unknown memory {other_id}")
                if item.id not in other.links:
                    self._put_item(replace(other, links=(*other.links, item.id)))
            self._put_item(item)
        return item

    def link(self, first_id: str, second_id: str) -> None:
        with self._store.transaction().write():
            first, second = self.get(first_id), self.get(second_id)
            if first is None or second is None:
                raise KeyError(f"unknown memory {first_id if first is None else second_id}")
            if second_id not in first.links:
                self._put_item(replace(first, links=(*first.links, second_id)))
            if first_id not in second.links:
                self._put_item(replace(second, links=(*second.links, first_id)))

    def unlink(self, first_id: str, second_id: str) -> None:
        """Remove the link between two items on both ends (missing ends are ignored)."""
        with self._store.transaction().write():
            for this_id, other_id in ((first_id, second_id), (second_id, first_id)):
                item = self.get(this_id)
                if item is not None and other_id in item.links:
                    links = tuple(link for link in item.links if link != other_id)
                    self._put_item(replace(item, links=links))

    def update_item(self, item: MemoryItem) -> MemoryItem:
        """Replace an existing item's text, meta or embedding; its links are kept as stored."""
        current = self.get(item.id)
        if current is None:
            raise KeyError(f"unknown memory {item.id}")
        updated = replace(item, links=current.links, updated_at=now())
        self._put_item(updated)
        return updated

    def get(self, item_id: str) -> MemoryItem | None:
        payload = self._items.get(item_id)
        return None if payload is None else MemoryItem.from_json(from_payload(payload))

    def items(self) -> list[MemoryItem]:
        return [MemoryItem.from_json(from_payload(p)) for _, p in self._items.scan().records]

    def forget_items(self, item_ids: set[str]) -> int:
        """Forget long-term items and remove every link that pointed at them."""
        with self._store.transaction().write():
            for item in self.items():
                if item.id not in item_ids and any(link in item_ids for link in item.links):
                    links = tuple(link for link in item.links if link not in item_ids)
                    self._put_item(replace(item, links=links))
            return self._items.delete(item_ids)

    def restore_items(self, items: list[MemoryItem]) -> None:
        """Store items as given (import); each link must point inside the batch or the store."""
        known = {item.id for item in items} | set(self._items.ids())
        for item in items:
            dangling = [link for link in item.links if link not in known]
            if dangling:
                raise RecordFormatError(f"memory {item.id} links to unknown memories {dangling}")
        with self._store.transaction().write():
            for item in items:
                self._put_item(item)

    def _put_item(self, item: MemoryItem) -> None:
        self._items.put(item.id, to_payload(item.to_json()))
