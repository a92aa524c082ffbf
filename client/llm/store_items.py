"""Adapting the store's records into prompt items, so retrieval results feed the prompt directly.

The memory engine ranks :class:`~client.memory.MemoryItem` and
:class:`~client.persona.PersonaAttribute` records; these functions carry each one into a
:class:`ContextItem` with its provenance (id, session, date, evidence), and past
:class:`~client.memory.Turn` records into chat messages. Kept out of the package's
``__init__`` so that importing ``client.llm`` does not open the store's modules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from client.llm.prompt_types import ChatMessage, ContextItem, ItemKind, Provenance
from client.memory import MemoryItem, Turn
from client.persona import STATEMENTS, PersonaAttribute
from client.records import JsonValue


def _moment(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _value_text(value: JsonValue) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def persona_item(attribute: PersonaAttribute, score: float = 0.0) -> ContextItem:
    """A persona attribute as a prompt item: ``"preferences.cuisine: vegetarian"``.

    Free-text statements ("i have two dogs") are already sentences and keep their own
    words. The date is when the current value was learned, not when the attribute was
    first seen: an older value may have said something else.
    """
    key = f"{attribute.category}.{attribute.name}"
    value = _value_text(attribute.value)
    text = value if attribute.category == STATEMENTS else f"{key}: {value}"
    source = Provenance(
        item_id=key, learned_at=_moment(attribute.value_since), evidence=attribute.evidence
    )
    return ContextItem(kind=ItemKind.PERSONA, text=text, source=source, score=score)


def memory_item(item: MemoryItem, score: float = 0.0) -> ContextItem:
    """A long-term memory as a prompt item, with its id, session and date."""
    source = Provenance(
        item_id=item.id, session_id=item.source_session, learned_at=_moment(item.created_at)
    )
    return ContextItem(kind=ItemKind.MEMORY, text=item.text, source=source, score=score)


def turn_message(turn: Turn) -> ChatMessage:
    """A stored chat turn as a message of the conversation."""
    return ChatMessage(turn.role, turn.text)
