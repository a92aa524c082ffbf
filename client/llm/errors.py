"""The ways a language-model backend can fail, each with one line for the person chatting.

Every failure of a backend reaches the chat loop as one :class:`ChatBackendError`
subclass, never as an ``httpx`` or ``json`` exception, so the loop needs a single
``except`` to print :attr:`ChatBackendError.user_line`, keep the person's turn and go on.
A failure in the middle of a reply keeps the text received before it in
:attr:`ChatBackendError.partial_text`, so the loop can store or show what arrived.
"""

from __future__ import annotations


class ChatBackendError(Exception):
    """A backend could not produce a (complete) reply.

    Attributes:
        user_line: One sentence, no newline, safe to print to the person as it is.
        partial_text: Reply text received before the failure ("" when none arrived).
    """

    def __init__(self, user_line: str, *, partial_text: str = "") -> None:
        super().__init__(user_line)
        self.user_line = " ".join(user_line.split())  # one line, whatever a server sent
        self.partial_text = partial_text


class BackendUnreachableError(ChatBackendError):
    """Nothing answered at the configured address (connection refused, no route, bad host)."""


class BackendTimeoutError(ChatBackendError):
    """The server accepted no connection, or sent nothing, within the configured timeout.

    Attributes:
        phase: ``"connect"`` or ``"read"``: which of the two timeouts ran out.
    """

    def __init__(self, user_line: str, *, phase: str, partial_text: str = "") -> None:
        super().__init__(user_line, partial_text=partial_text)
        self.phase = phase


class BackendHTTPError(ChatBackendError):
    """The server reported an error: an HTTP error status, or an error event mid-stream.

    Attributes:
        status: The HTTP status code (for an error event, its ``code`` when numeric, else None).
        server_message: The server's own explanation, as far as it gave one.
    """

    def __init__(
        self, user_line: str, *, status: int | None, server_message: str, partial_text: str = ""
    ) -> None:
        super().__init__(user_line, partial_text=partial_text)
        self.status = status
        self.server_message = server_message


class MalformedReplyError(ChatBackendError):
    """The server sent something that is not the chat completions protocol (bad JSON, no text)."""


class StreamCutError(ChatBackendError):
    """The reply stream ended before the server said it was complete."""


class PromptTooLongError(ChatBackendError):
    """Even with every memory and past turn dropped, the prompt does not fit the context window."""
