"""The backend for when no language model is connected: it reports, it does not converse.

It says so plainly, then lists what the turn retrieved about the person (persona facts
and memories) with where each was learned, so a question such as "what did I say about
my allergy?" still gets a useful, honest answer. It never writes text that reads like a
model's reply: no greeting, no advice, nothing that is not in the items it was handed.
"""

from __future__ import annotations

from collections.abc import Iterator

from client.llm.prompt_types import ChatPrompt, ContextItem, ItemKind
from client.llm.protocol import Reply, ReplyEvent, TextDelta

NOT_CONNECTED = "No language model is connected, so I cannot hold a conversation."
NOTHING_FOUND = "I found nothing in your memories or profile that matches this message."
FOUND = "Here is what I have on record that may be relevant to your message:"
HOW_TO_CONNECT = (
    "To chat, start a local model server (for example Ollama or llama.cpp's server) "
    "and pass its address with --backend URL --model NAME."
)
_LABELS = {ItemKind.PERSONA: "profile", ItemKind.MEMORY: "memory"}


def describe_item(item: ContextItem) -> str:
    """``- I am vegetarian (profile; food.diet, session s-2, 2026-11-02)``."""
    return f"- {item.text} ({_LABELS[item.kind]}; {item.source.describe()})"


def offline_answer(prompt: ChatPrompt, *, max_items: int = 10) -> str:
    """The whole offline reply to ``prompt``: the notice, the relevant items, how to connect.

    Items come most relevant first (by ``score``); persona facts and memories are
    listed together so the order is the retrieval's, not the section's.
    """
    items = sorted(prompt.context.items, key=lambda item: item.score, reverse=True)[:max_items]
    lines = [NOT_CONNECTED]
    if items:
        lines.append(FOUND)
        lines.extend(describe_item(item) for item in items)
    else:
        lines.append(NOTHING_FOUND)
    lines.append(HOW_TO_CONNECT)
    return "\n".join(lines)


class OfflineBackend:
    """:class:`~client.llm.protocol.ChatBackend` that answers from the prompt's context only.

    Args:
        reason: Why no model is connected ("no server configured", or the error line
            of the server that did not answer); shown as the reply's ``notice``.
        context_length: The token window prompts are fitted to. With no model reading
            them it only bounds how many items are gathered; the default is generous.
        max_items: The most items one answer lists.
    """

    def __init__(
        self,
        reason: str = "no server configured",
        *,
        context_length: int = 8192,
        max_items: int = 10,
    ) -> None:
        if context_length < 1 or max_items < 1:
            raise ValueError(
                f"context_length and max_items must be positive, got {context_length}, {max_items}"
            )
        self.reason = reason
        self._context_length = context_length
        self._max_items = max_items

    def describe(self) -> str:
        return f"no language model connected ({self.reason}); answers list your memories"

    def context_length(self) -> int:
        return self._context_length

    def close(self) -> None:
        """Nothing to release: the offline backend holds no connection."""

    def stream(self, prompt: ChatPrompt) -> Iterator[ReplyEvent]:
        text = offline_answer(prompt, max_items=self._max_items)
        yield TextDelta(text)
        yield Reply(
            text=text, finish_reason="stop", model="offline", offline=True, notice=self.reason
        )
