"""One question to the model server, outside the chat: an instruction and a text, one answer.

The memory engine's language-model parts (``client.memory_engine.llm_summary`` and
``llm_extraction``) ask through :class:`OneShot`. It sends exactly two messages, the
fixed instruction and the text it is handed, nothing else of the store, and it stops
asking once the server has proved absent or too slow: a session end with many turns must
not wait out one timeout per turn.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from client.llm.errors import BackendTimeoutError, BackendUnreachableError, ChatBackendError
from client.llm.prompt_types import ChatMessage, ChatPrompt
from client.llm.protocol import ChatBackend, complete
from client.llm.server_config import ServerConfig

NOT_ASKED = "not asked: "


class ModelUnavailableError(ChatBackendError):
    """No language model wrote an answer (the server is down, or answered offline)."""


class OneShot:
    """Asks ``backend`` one instruction-and-text question at a time.

    After an unreachable server or a timeout, every later :meth:`ask` raises
    :class:`ModelUnavailableError` at once, naming the first failure, until the object
    is dropped (the chat makes one per process).
    """

    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend
        self.down: str | None = None  # the failure that stopped the asking

    def ask(self, instruction: str, text: str) -> tuple[str, str | None]:
        """The answer's text and finish reason; any failure as a :class:`ChatBackendError`."""
        if self.down is not None:
            raise ModelUnavailableError(NOT_ASKED + self.down)
        messages = (ChatMessage("system", instruction), ChatMessage("user", text))
        try:
            reply = complete(self.backend, ChatPrompt(messages=messages, user_message=text))
        except (BackendUnreachableError, BackendTimeoutError) as error:
            self.down = error.user_line
            raise
        if reply.offline:  # a fallback backend's list of memories is not an answer
            raise ModelUnavailableError(f"no language model answered ({reply.notice})")
        return reply.text, reply.finish_reason

    def fallback_log_level(self, reason: str) -> int:
        """INFO for a fallback that only repeats the failure that stopped the asking (it
        was warned about once), WARNING for any other: one warning, not one per message."""
        return logging.INFO if self.down and reason.startswith(NOT_ASKED) else logging.WARNING

    def close(self) -> None:
        self.backend.close()


def task_config(server: ServerConfig, *, max_reply_tokens: int) -> ServerConfig:
    """``server`` for a memory task: greedy decoding (the same session, the same answer)
    and a reply cap, so a model that ignores the requested length stops early."""
    return replace(server, temperature=0.0, max_reply_tokens=max_reply_tokens)
