"""Choosing a backend, and falling back to the offline one when the server is not there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from client.llm.errors import BackendTimeoutError, BackendUnreachableError, ChatBackendError
from client.llm.offline import OfflineBackend
from client.llm.prompt_types import ChatPrompt
from client.llm.protocol import ChatBackend, Reply, ReplyEvent
from client.llm.server_config import ServerConfig


def _server_absent(error: ChatBackendError) -> bool:
    """True for failures that mean no server answered at all, before any reply text."""
    if error.partial_text:
        return False
    return isinstance(error, BackendUnreachableError) or (
        isinstance(error, BackendTimeoutError) and error.phase == "connect"
    )


class WithOfflineFallback:
    """A backend that answers offline, for one turn, when its server is not reachable.

    A server that is reachable but fails (HTTP error, timeout while generating, cut or
    malformed stream) still raises: the person should see that error, not a list of
    memories that looks like an answer. The offline reply's ``notice`` carries the
    server's error line, so the chat loop shows why it is offline.
    """

    def __init__(self, primary: ChatBackend, offline: OfflineBackend | None = None) -> None:
        self.primary = primary
        self.offline = offline or OfflineBackend()

    def describe(self) -> str:
        return self.primary.describe()

    def context_length(self) -> int:
        return self.primary.context_length()

    def close(self) -> None:
        self.primary.close()
        self.offline.close()

    def stream(self, prompt: ChatPrompt) -> Iterator[ReplyEvent]:
        try:
            yield from self.primary.stream(prompt)
            return
        except ChatBackendError as error:
            if not _server_absent(error):
                raise
            notice = error.user_line
        for event in self.offline.stream(prompt):
            yield replace(event, notice=notice) if isinstance(event, Reply) else event


def choose_backend(config: ServerConfig | None) -> ChatBackend:
    """The backend for ``config``: the server's (offline when it is unreachable), or offline.

    With no config, every turn is answered offline. With one, each turn tries the
    server and answers offline only when nothing answers at its address; the
    OpenAI-compatible backend (and httpx) is imported only then.
    """
    if config is None:
        return OfflineBackend("no language model server configured")
    from client.llm.openai_compatible import OpenAICompatibleBackend

    return WithOfflineFallback(OpenAICompatibleBackend(config))
