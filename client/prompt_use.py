"""What each prompt used of the person, sealed: the data behind the monitoring metrics
"justification" and "correction" (client.monitoring).

One small record per answered prompt: how many personal items (persona facts and
memories) it used, how many of them were backed by stored evidence, the keys of the
persona facts it used (so a later change of one of their values reads as a correction),
and whether the person rated the reply wrong (``/bad``). No text of the prompt, the
message or the reply is kept. Only the last ``MAX_RECORDS`` records stay: older ones are
forgotten (their keys destroyed) as new ones arrive, as the short-term turns are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from client.llm.prompt_types import ContextItem, ItemKind
from client.records import field_of, from_payload, new_record_id, now, strings_of, to_payload
from client.store import EncryptedStore

TABLE = "prompt_uses"
MAX_RECORDS = 100


@dataclass(frozen=True, kw_only=True)
class PromptUse:
    """One prompt's use of personal items; counts and persona keys only, no text."""

    session_id: str
    items: int  # persona facts and memories the prompt used
    backed: int  # of which backed by stored evidence (is_backed)
    persona_keys: tuple[str, ...] = ()  # "category.name" of each persona fact used
    corrected: bool = False  # the person rated the reply wrong
    at: float = field(default_factory=now)
    id: str = field(default_factory=new_record_id)

    def __post_init__(self) -> None:
        if not 0 <= self.backed <= self.items:
            raise ValueError(f"backed must be within [0, items={self.items}], got {self.backed}")

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "session_id": self.session_id,
            "items": self.items,
            "backed": self.backed,
            "persona_keys": list(self.persona_keys),
            "corrected": self.corrected,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "prompt_use") -> PromptUse:
        return cls(
            id=field_of(data, "id", str, where),
            session_id=field_of(data, "session_id", str, where),
            items=int(field_of(data, "items", int, where)),
            backed=int(field_of(data, "backed", int, where)),
            persona_keys=tuple(strings_of(data, "persona_keys", where)),
            corrected=bool(field_of(data, "corrected", bool, where)),
            at=float(field_of(data, "at", (int, float), where)),
        )


def is_backed(item: ContextItem) -> bool:
    """A memory is itself stored evidence (what the person said, kept on the device); a
    persona fact is backed when it still names a stored memory it was learned from (forgetting
    a memory removes it from every fact's evidence, client.persona.Persona.drop_evidence)."""
    return item.kind is ItemKind.MEMORY or bool(item.source.evidence)


def use_of(items: Sequence[ContextItem], session_id: str, *, at: float | None = None) -> PromptUse:
    """The record of a prompt that used ``items``."""
    return PromptUse(
        session_id=session_id,
        items=len(items),
        backed=sum(is_backed(item) for item in items),
        persona_keys=tuple(i.source.item_id for i in items if i.kind is ItemKind.PERSONA),
        at=now() if at is None else at,
    )


class PromptUses:
    """The sealed prompt-use records of an unlocked store."""

    def __init__(self, store: EncryptedStore) -> None:
        self._store = store
        self._table = store.tables[TABLE]

    def record(self, use: PromptUse) -> PromptUse:
        """Store ``use``; beyond ``MAX_RECORDS`` the oldest are forgotten in the same commit."""
        with self._store.transaction().write():
            self._table.put(use.id, to_payload(use.to_json()))
            ids = self._table.ids()
            if len(ids) > MAX_RECORDS:
                self._table.delete(ids[: len(ids) - MAX_RECORDS])
        return use

    def mark_corrected(self, use_id: str) -> bool:
        """The person said the reply of ``use_id`` was wrong; False if it is no longer held."""
        payload = self._table.get(use_id)
        if payload is None:
            return False
        use = PromptUse.from_json(from_payload(payload))
        self._table.put(use_id, to_payload(replace(use, corrected=True).to_json()))
        return True

    def all(self) -> list[PromptUse]:
        """Oldest first."""
        return [PromptUse.from_json(from_payload(p)) for _, p in self._table.scan().records]
