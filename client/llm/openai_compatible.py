"""A chat completions backend for any OpenAI-compatible server, on httpx and httpx-sse.

Streaming follows the protocol as servers really speak it: ``data:`` events each holding
a ``chat.completion.chunk``, ``data: [DONE]`` at the end, an optional last chunk with
``usage`` and ``choices`` null or empty. A stream is complete when ``[DONE]`` arrives or,
for servers that never send it, when it ends cleanly after a ``finish_reason``; any
other end is a cut stream. Every failure becomes a
:class:`~client.llm.errors.ChatBackendError` that keeps the text received so far.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from client.llm import completion_json
from client.llm.context_discovery import discover_context_window
from client.llm.errors import (
    BackendHTTPError,
    BackendTimeoutError,
    BackendUnreachableError,
    ChatBackendError,
    MalformedReplyError,
    StreamCutError,
)
from client.llm.prompt_types import ChatPrompt
from client.llm.protocol import Reply, ReplyEvent, TextDelta, Usage
from client.llm.server_config import ContextWindow, ServerConfig

DONE = "[DONE]"


@dataclass
class _StreamState:
    """What has arrived of one reply so far."""

    pieces: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    model: str | None = None
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.pieces)

    def reply(self, fallback_model: str) -> Reply:
        return Reply(
            text=self.text,
            finish_reason=self.finish_reason,
            usage=self.usage,
            model=self.model or fallback_model,
        )


class OpenAICompatibleBackend:
    """:class:`~client.llm.protocol.ChatBackend` for a chat completions server.

    Args:
        config: Where the server is and how to talk to it.
        client: An ``httpx.Client`` to use (tests pass one); by default one is made with
            the configured timeouts and closed by :meth:`close`.
    """

    def __init__(self, config: ServerConfig, *, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=timeout_of(config))
        self._window: ContextWindow | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> OpenAICompatibleBackend:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def describe(self) -> str:
        return f"{self.config.model} at {self.config.api_root}"

    def context_window(self) -> ContextWindow:
        """The context window and where its size came from (asked of the server once)."""
        if self._window is None:
            self._window = discover_context_window(self.config, self._client)
        return self._window

    def context_length(self) -> int:
        return self.context_window().tokens

    def stream(self, prompt: ChatPrompt) -> Iterator[ReplyEvent]:
        state = _StreamState()
        try:
            if self.config.stream:
                yield from self._stream_events(prompt, state)
            else:
                yield from self._whole_reply(prompt, state)
        except ChatBackendError:
            raise
        except SSEError as error:  # a 200 that is not an event stream
            raise MalformedReplyError(
                f"The language model server did not answer with an event stream ({error}).",
                partial_text=state.text,
            ) from error
        except (httpx.RemoteProtocolError, httpx.ReadError) as error:
            # A connection dropped after the finish reason lost at most the usage chunk.
            if not state.finish_reason:
                raise translate_transport_error(error, self.config, state.text) from error
        except httpx.HTTPError as error:
            raise translate_transport_error(error, self.config, state.text) from error
        yield state.reply(self.config.model)

    def _payload(self, prompt: ChatPrompt) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": [message.to_json() for message in prompt.messages],
            "stream": self.config.stream,
        }
        if self.config.stream and self.config.include_usage:
            payload["stream_options"] = {"include_usage": True}
        if self.config.temperature is not None:
            payload["temperature"] = self.config.temperature
        if self.config.max_reply_tokens is not None:
            payload["max_tokens"] = self.config.max_reply_tokens
        return payload

    def _headers(self) -> dict[str, str]:
        if self.config.api_key:
            return {"Authorization": f"Bearer {self.config.api_key}"}
        return {}

    def _stream_events(self, prompt: ChatPrompt, state: _StreamState) -> Iterator[TextDelta]:
        url = self.config.api_root + "/chat/completions"
        with connect_sse(
            self._client, "POST", url, json=self._payload(prompt), headers=self._headers()
        ) as source:
            raise_for_status(source.response)
            if _is_json(source.response):  # a server that ignored "stream": true
                yield from self._apply_whole(source.response.read(), state)
                return
            for event in source.iter_sse():
                if event.data.strip() == DONE:
                    state.done = True
                    break
                if not event.data.strip():  # keep-alive or comment-only events
                    continue
                piece = self._apply_chunk(event.data, state)
                if piece:
                    yield TextDelta(piece)
        if not (state.done or state.finish_reason):
            raise StreamCutError(
                "The language model server closed the reply stream before finishing; "
                "the reply so far is kept.",
                partial_text=state.text,
            )

    def _apply_chunk(self, data: str, state: _StreamState) -> str:
        chunk = completion_json.parse_object(data, partial_text=state.text)
        completion_json.raise_for_error_object(chunk, partial_text=state.text)
        content = completion_json.stream_chunk(chunk)
        if content.text:
            state.pieces.append(content.text)
        state.finish_reason = content.finish_reason or state.finish_reason
        state.usage = content.usage or state.usage
        state.model = content.model or state.model
        return content.text

    def _whole_reply(self, prompt: ChatPrompt, state: _StreamState) -> Iterator[TextDelta]:
        url = self.config.api_root + "/chat/completions"
        response = self._client.post(url, json=self._payload(prompt), headers=self._headers())
        raise_for_status(response)
        yield from self._apply_whole(response.content, state)

    def _apply_whole(self, body: bytes, state: _StreamState) -> Iterator[TextDelta]:
        body_object = completion_json.parse_object(body)
        completion_json.raise_for_error_object(body_object)
        content = completion_json.whole_reply(body_object)
        state.pieces.append(content.text)
        state.finish_reason, state.usage, state.model = (
            content.finish_reason,
            content.usage,
            content.model,
        )
        state.done = True
        if content.text:
            yield TextDelta(content.text)


def _is_json(response: httpx.Response) -> bool:
    content_type: str = response.headers.get("content-type", "")
    return content_type.partition(";")[0].strip() == "application/json"


def timeout_of(config: ServerConfig) -> httpx.Timeout:
    """httpx timeouts from the config: connect as configured, read/write/pool as read."""
    return httpx.Timeout(config.read_timeout_s, connect=config.connect_timeout_s)


def raise_for_status(response: httpx.Response) -> None:
    """Raise :class:`BackendHTTPError` with the server's own message for a 4xx/5xx answer."""
    if not response.is_error:
        return
    body = response.read()
    try:
        message = completion_json.server_message(completion_json.parse_object(body))
    except MalformedReplyError:
        message = completion_json.server_message(body.decode("utf-8", "replace")) or "no details"
    raise BackendHTTPError(
        f"The language model server answered HTTP {response.status_code}: {message}",
        status=response.status_code,
        server_message=message,
    )


def translate_transport_error(
    error: httpx.HTTPError, config: ServerConfig, partial_text: str
) -> ChatBackendError:
    """The :class:`ChatBackendError` for an httpx failure, keeping ``partial_text``."""
    where = config.api_root
    if isinstance(error, httpx.ConnectTimeout):
        return BackendTimeoutError(
            f"The language model server at {where} did not accept a connection "
            f"within {config.connect_timeout_s:g} s.",
            phase="connect",
        )
    if isinstance(error, httpx.TimeoutException):
        what = "stopped sending" if partial_text else "did not start answering"
        return BackendTimeoutError(
            f"The language model server at {where} {what} within {config.read_timeout_s:g} s.",
            phase="read",
            partial_text=partial_text,
        )
    if isinstance(error, httpx.ConnectError):
        return BackendUnreachableError(
            f"Cannot reach the language model server at {where} ({error}); is it running?"
        )
    if isinstance(error, httpx.DecodingError):
        return MalformedReplyError(
            f"The language model server sent a reply that cannot be decoded ({error}).",
            partial_text=partial_text,
        )
    return StreamCutError(
        f"The connection to the language model server at {where} broke ({error}); "
        "the reply so far is kept.",
        partial_text=partial_text,
    )
