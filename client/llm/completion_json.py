"""Reading the JSON of chat completions replies, tolerant of what real servers send.

Servers differ: some send ``"choices": null`` or ``[]`` in the final usage chunk, some
put errors in the stream as ``{"error": ...}``, Ollama's errors are a bare string. These
functions accept all of that and refuse only what is not the protocol at all, with a
:class:`~client.llm.errors.ChatBackendError` the chat loop can show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from client.llm.errors import BackendHTTPError, MalformedReplyError
from client.llm.protocol import Usage

_MAX_SERVER_MESSAGE = 300  # a server may send a whole stack trace; the person needs a line


@dataclass(frozen=True, kw_only=True)
class ChunkContent:
    """What one streamed chunk (or a whole non-streamed reply) carried."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None


def parse_object(raw: str | bytes, *, partial_text: str = "") -> dict[str, Any]:
    """``raw`` as a JSON object, or :class:`MalformedReplyError` keeping ``partial_text``."""
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        value = None
    if not isinstance(value, dict):
        excerpt = raw[:80].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:80]
        raise MalformedReplyError(
            f"The language model server sent something that is not a JSON object: {excerpt!r}.",
            partial_text=partial_text,
        )
    return value


def server_message(body: Any) -> str:
    """The server's explanation in an error body, whatever shape it takes."""
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            body = error
    text = body if isinstance(body, str) else json.dumps(body)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_SERVER_MESSAGE else text[:_MAX_SERVER_MESSAGE] + "..."


def raise_for_error_object(chunk: dict[str, Any], *, partial_text: str = "") -> None:
    """Raise :class:`BackendHTTPError` when ``chunk`` is an error event, not a completion."""
    if "error" not in chunk or chunk.get("choices"):
        return
    error = chunk["error"]
    code = error.get("code") if isinstance(error, dict) else None
    message = server_message(chunk)
    raise BackendHTTPError(
        f"The language model server reported an error: {message}",
        status=code if isinstance(code, int) else None,
        server_message=message,
        partial_text=partial_text,
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def parse_usage(value: Any) -> Usage | None:
    """The ``usage`` object, or None when absent or not made of whole numbers."""
    if not isinstance(value, dict):
        return None
    prompt, completion = _count(value.get("prompt_tokens")), _count(value.get("completion_tokens"))
    if prompt is None or completion is None:
        return None
    total = _count(value.get("total_tokens"))
    return Usage(
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion if total is None else total,
    )


def _first_choice(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")  # None, [] and missing all occur in final usage chunks
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return {}


def _text_of(message: Any) -> str:
    content = message.get("content") if isinstance(message, dict) else None
    return content if isinstance(content, str) else ""  # null content: a role-only delta


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def stream_chunk(chunk: dict[str, Any]) -> ChunkContent:
    """What a ``chat.completion.chunk`` carries: its text delta, finish reason and usage."""
    choice = _first_choice(chunk)
    return ChunkContent(
        text=_text_of(choice.get("delta")),
        finish_reason=_str_or_none(choice.get("finish_reason")),
        usage=parse_usage(chunk.get("usage")),
        model=_str_or_none(chunk.get("model")),
    )


def whole_reply(body: dict[str, Any]) -> ChunkContent:
    """What a non-streamed ``chat.completion`` carries; it must have a message."""
    choice = _first_choice(body)
    if not isinstance(choice.get("message"), dict):
        raise MalformedReplyError("The language model server's reply has no message in it.")
    return ChunkContent(
        text=_text_of(choice["message"]),
        finish_reason=_str_or_none(choice.get("finish_reason")),
        usage=parse_usage(body.get("usage")),
        model=_str_or_none(body.get("model")),
    )
