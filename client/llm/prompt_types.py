"""What a chat turn hands a backend: the messages, and the sections they were built from.

A backend that talks to a language model only needs :attr:`ChatPrompt.messages`. The
offline fallback has no model to read them, so it answers from
:attr:`ChatPrompt.context`: the persona facts and memories the turn retrieved, each with
where it was learned. These types belong to this package, not to the memory engine, so
the engine's retrieval results only need adapting into :class:`ContextItem` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatMessage:
    """One message of the OpenAI chat format: ``role`` is system, user or assistant."""

    role: str
    content: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role: expected one of {ROLES}, got {self.role!r}")

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "content": self.content}


class ItemKind(StrEnum):
    PERSONA = "persona"  # a persona attribute ("prefers vegetarian food")
    MEMORY = "memory"  # a long-term memory item or a session summary


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where an item was learned, as far as the store knows it.

    Attributes:
        item_id: Id of the record in the store (memory id or persona attribute name).
        session_id: The chat session it came from, if known.
        learned_at: When it was learned (UTC), if known.
        evidence: Ids of the memories a persona attribute was derived from.
    """

    item_id: str
    session_id: str | None = None
    learned_at: datetime | None = None
    evidence: tuple[str, ...] = ()

    def describe(self) -> str:
        """``"memory m-1, session s-3, 2026-11-02"``: the parts that are known."""
        parts = [self.item_id]
        if self.session_id:
            parts.append(f"session {self.session_id}")
        if self.learned_at is not None:
            parts.append(self.learned_at.date().isoformat())
        if self.evidence:
            parts.append("from " + ", ".join(self.evidence))
        return ", ".join(parts)


@dataclass(frozen=True, kw_only=True)
class ContextItem:
    """One persona fact or memory offered to the prompt.

    Attributes:
        kind: Persona fact or memory.
        text: The fact in words, as it will appear in the prompt.
        source: Where it was learned.
        score: Relevance to the current message; higher is more relevant. Items with a
            lower score are dropped first when the prompt must shrink.
    """

    kind: ItemKind
    text: str
    source: Provenance
    score: float = 0.0


@dataclass(frozen=True, kw_only=True)
class PromptContext:
    """The personal sections of a prompt, most relevant item first within each tuple."""

    persona: tuple[ContextItem, ...] = ()
    memories: tuple[ContextItem, ...] = ()
    dropped: tuple[ContextItem, ...] = ()  # left out to fit the token budget

    @property
    def items(self) -> tuple[ContextItem, ...]:
        return self.persona + self.memories


@dataclass(frozen=True, kw_only=True)
class ChatPrompt:
    """A turn ready for a backend.

    Attributes:
        messages: The chat messages, system message first and the user's message last.
        user_message: The person's message this turn answers.
        context: The persona facts and memories the messages contain.
        dropped_turns: How many of the recent turns were left out to fit the budget.
        estimated_tokens: The prompt's size as the budget's token counter saw it.
    """

    messages: tuple[ChatMessage, ...]
    user_message: str
    context: PromptContext = field(default_factory=PromptContext)
    dropped_turns: int = 0
    estimated_tokens: int = 0
