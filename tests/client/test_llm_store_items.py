"""Store records become prompt items that keep where they were learned."""

from __future__ import annotations

from datetime import UTC, datetime

from client.llm import ChatMessage, ItemKind
from client.llm.offline import describe_item
from client.llm.store_items import memory_item, persona_item, turn_message
from client.memory import MemoryItem, Turn
from client.persona import STATEMENTS, PersonaAttribute

NOV_2 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC).timestamp()


def test_persona_attribute_keeps_its_key_date_and_evidence() -> None:
    attribute = PersonaAttribute(
        category="preferences",
        name="cuisine",
        value="vegetarian",
        evidence=("m-3", "m-9"),
        first_seen=NOV_2 - 86400 * 30,
        value_since=NOV_2,
    )
    item = persona_item(attribute, score=0.8)
    assert (item.kind, item.text, item.score) == (
        ItemKind.PERSONA,
        "preferences.cuisine: vegetarian",
        0.8,
    )
    assert describe_item(item) == (
        "- preferences.cuisine: vegetarian "
        "(profile; preferences.cuisine, 2026-11-02, from m-3, m-9)"
    )


def test_statements_keep_their_words_and_structured_values_are_json() -> None:
    statement = PersonaAttribute(category=STATEMENTS, name="s1", value="i have two dogs")
    languages = PersonaAttribute(category="demographics", name="languages", value=["pt", "en"])
    assert persona_item(statement).text == "i have two dogs"
    assert persona_item(languages).text == 'demographics.languages: ["pt", "en"]'


def test_memory_item_keeps_id_session_and_date() -> None:
    memory = MemoryItem(text="Flying to Porto on Friday", source_session="s-4", created_at=NOV_2)
    item = memory_item(memory, score=0.4)
    assert item.kind == ItemKind.MEMORY
    assert item.source.describe() == f"{memory.id}, session s-4, 2026-11-02"


def test_turns_become_messages() -> None:
    assert turn_message(Turn(session_id="s", role="assistant", text="Hi")) == ChatMessage(
        "assistant", "Hi"
    )
