"""Language-model backends for the chat client, and the prompts they answer.

The chat loop's path through this package, per turn::

    backend = choose_backend(ServerConfig(base_url=..., model=...))  # or choose_backend(None)
    # persona / memories: ranked store records through client.llm.store_items
    # (persona_item, memory_item), most relevant first; turns through turn_message.
    prompt = build_chat_prompt(profile, persona=..., memories=..., recent_turns=...,
                               user_message=text, budget=TokenBudget(
                                   context_length=backend.context_length(),
                                   reply_reserve=profile.reply_reserve_tokens))
    try:
        reply = complete(backend, prompt, on_text=print_piece)
    except ChatBackendError as error:
        print(error.user_line)          # keep the turn; error.partial_text holds any text

Importing this package does not import httpx: the server backend is imported when
:func:`choose_backend` is given a server (or from ``client.llm.openai_compatible``).
"""

from client.llm.errors import (
    BackendHTTPError,
    BackendTimeoutError,
    BackendUnreachableError,
    ChatBackendError,
    MalformedReplyError,
    PromptTooLongError,
    StreamCutError,
)
from client.llm.fallback import WithOfflineFallback, choose_backend
from client.llm.offline import OfflineBackend, offline_answer
from client.llm.prompt_builder import build_chat_prompt, policy_text, system_message
from client.llm.prompt_types import (
    ChatMessage,
    ChatPrompt,
    ContextItem,
    ItemKind,
    PromptContext,
    Provenance,
)
from client.llm.protocol import ChatBackend, Reply, ReplyEvent, TextDelta, Usage, complete
from client.llm.server_config import ContextWindow, ServerConfig
from client.llm.token_budget import (
    CharEstimateCounter,
    TokenBudget,
    TokenCounter,
    WordPieceCounter,
)

__all__ = [
    "BackendHTTPError",
    "BackendTimeoutError",
    "BackendUnreachableError",
    "CharEstimateCounter",
    "ChatBackend",
    "ChatBackendError",
    "ChatMessage",
    "ChatPrompt",
    "ContextItem",
    "ContextWindow",
    "ItemKind",
    "MalformedReplyError",
    "OfflineBackend",
    "PromptContext",
    "PromptTooLongError",
    "Provenance",
    "Reply",
    "ReplyEvent",
    "ServerConfig",
    "StreamCutError",
    "TextDelta",
    "TokenBudget",
    "TokenCounter",
    "Usage",
    "WithOfflineFallback",
    "WordPieceCounter",
    "build_chat_prompt",
    "choose_backend",
    "complete",
    "offline_answer",
    "policy_text",
    "system_message",
]
