"""How to reach an OpenAI-compatible chat completions server, parsed and checked once."""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_CONTEXT_LENGTH = 4096  # Ollama's default window since 0.6; a safe guess elsewhere


@dataclass(frozen=True, kw_only=True)
class ContextWindow:
    """A context length in tokens and where it was learned (shown at the start of a chat)."""

    tokens: int
    source: str


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """An OpenAI-compatible server (Ollama, llama.cpp's server, vLLM, LM Studio).

    Attributes:
        base_url: The API root that ``/chat/completions`` is under, usually ending in
            ``/v1`` (Ollama ``http://127.0.0.1:11434/v1``, llama.cpp ``http://127.0.0.1:8080/v1``).
        model: The model name the server knows (llama.cpp's server ignores it).
        api_key: Sent as a bearer token when set (vLLM or LM Studio started with a key).
        connect_timeout_s: How long to wait for the server to accept a connection.
        read_timeout_s: The longest silence tolerated while waiting for the next piece;
            the first piece of a reply on a CPU can take tens of seconds, hence the default.
        stream: Stream the reply (server-sent events) rather than wait for all of it.
        include_usage: Ask for the final usage chunk (``stream_options.include_usage``).
        temperature: Sampling temperature; None leaves the server's default.
        max_reply_tokens: Cap on the reply's length (``max_tokens``); None leaves it open.
        context_length: The context window in tokens; set, it overrides what the server says.
        default_context_length: The window assumed when the server does not say.
    """

    base_url: str
    model: str
    api_key: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 120.0
    stream: bool = True
    include_usage: bool = True
    temperature: float | None = None
    max_reply_tokens: int | None = None
    context_length: int | None = None
    default_context_length: int = DEFAULT_CONTEXT_LENGTH

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url: expected an http(s) URL, got {self.base_url!r}")
        if not self.model.strip():
            raise ValueError("model: expected a model name, got an empty string")
        for name in ("connect_timeout_s", "read_timeout_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: expected a positive number of seconds, got {value!r}")
        if self.temperature is not None and not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature: expected 0 to 2, got {self.temperature!r}")
        for name in ("max_reply_tokens", "context_length", "default_context_length"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name}: expected a positive whole number, got {value!r}")

    @property
    def api_root(self) -> str:
        """``base_url`` without a trailing slash."""
        return self.base_url.rstrip("/")

    @property
    def server_root(self) -> str:
        """The server's own root, where Ollama's ``/api/show`` and llama.cpp's ``/props`` live."""
        root = self.api_root
        return root[: -len("/v1")] if root.endswith("/v1") else root
