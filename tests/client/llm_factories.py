"""Small factories for the chat prompt tests."""

from __future__ import annotations

from datetime import UTC, datetime

from client.llm import ContextItem, ItemKind, Provenance


def fact(text: str, score: float = 0.5, item_id: str = "preferences.x") -> ContextItem:
    source = Provenance(item_id=item_id, evidence=("m-1",))
    return ContextItem(kind=ItemKind.PERSONA, text=text, source=source, score=score)


def memory(
    text: str, score: float = 0.5, item_id: str = "m-1", session: str = "s-1"
) -> ContextItem:
    learned = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    source = Provenance(item_id=item_id, session_id=session, learned_at=learned)
    return ContextItem(kind=ItemKind.MEMORY, text=text, source=source, score=score)
