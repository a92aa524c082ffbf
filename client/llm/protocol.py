"""The contract every language-model backend keeps, so the chat loop can swap them freely."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from client.llm.errors import MalformedReplyError
from client.llm.prompt_types import ChatPrompt


@dataclass(frozen=True)
class TextDelta:
    """A piece of the reply, in the order generated."""

    text: str


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Token counts as the server reported them (OpenAI's ``usage`` object)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


@dataclass(frozen=True, kw_only=True)
class Reply:
    """A complete reply.

    Attributes:
        text: The whole reply (the concatenation of every :class:`TextDelta`).
        finish_reason: Why generation stopped (``"stop"``, ``"length"``, ...), if told.
        usage: Token counts, when the server sent them.
        model: The model the server says answered, or the backend's name.
        offline: True when no language model wrote this reply.
        notice: One line the person should see beside the reply (why it is offline).
    """

    text: str
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str = ""
    offline: bool = False
    notice: str | None = None


ReplyEvent = TextDelta | Reply


@runtime_checkable
class ChatBackend(Protocol):
    """Something that answers a :class:`ChatPrompt`.

    Contract, shared by every backend (and checked by the same tests):

    - ``stream(prompt)`` yields zero or more :class:`TextDelta` and then exactly one
      :class:`Reply`, last, whose ``text`` is the concatenation of the deltas.
    - Every failure is raised as a :class:`~client.llm.errors.ChatBackendError` whose
      ``partial_text`` holds the deltas yielded before it; no other exception escapes
      (``KeyboardInterrupt`` aside: the caller owns Ctrl-C and the text it has seen).
    - ``context_length()`` is the context window in tokens the prompt must fit, with
      room left for the reply; it never raises and may contact the server once.
    - ``describe()`` is one line for the person: what answers them ("llama3.2 at
      http://127.0.0.1:11434/v1", or that no language model is connected).
    - ``close()`` releases what the backend holds (connections); calling it twice is fine.
    """

    def stream(self, prompt: ChatPrompt) -> Iterator[ReplyEvent]:
        """Generate the reply to ``prompt`` piece by piece (see the class docstring)."""
        ...

    def context_length(self) -> int:
        """The context window, in tokens, that prompt and reply share."""
        ...

    def describe(self) -> str:
        """One line saying what answers."""
        ...

    def close(self) -> None:
        """Release connections; the backend is not used afterwards."""
        ...


def complete(
    backend: ChatBackend,
    prompt: ChatPrompt,
    on_text: Callable[[str], object] | None = None,
) -> Reply:
    """Run ``backend.stream(prompt)`` to the end, passing each piece to ``on_text``.

    The chat loop prints pieces as they come through ``on_text`` and keeps the
    returned :class:`Reply`; failures propagate as :class:`ChatBackendError`.
    """
    pieces: list[str] = []
    for event in backend.stream(prompt):
        if isinstance(event, Reply):
            return event
        pieces.append(event.text)
        if on_text is not None:
            on_text(event.text)
    raise MalformedReplyError(
        "The language model backend ended without a reply.", partial_text="".join(pieces)
    )
