"""Fake model-server routes for the memory engine's language-model parts.

One route answers the chat, the summary request and the extraction request, told apart by
the fixed system message each sends, the way one local model server answers all three.
"""

from __future__ import annotations

import json
from typing import Any

from client.llm import ServerConfig
from client.llm.one_shot import OneShot
from client.llm.openai_compatible import OpenAICompatibleBackend
from client.memory_engine.llm_extraction import INSTRUCTION as EXTRACTION
from tests.client.llm_fake_server import Handler, Route, Seen, chunk, sse_route

CHAT = ("POST", "/v1/chat/completions")
SUMMARY_OPENING = "You write the private notes"


def one_shot(url: str, *, read_timeout_s: float = 10.0) -> OneShot:
    config = ServerConfig(
        base_url=url, model="llama3.2", connect_timeout_s=1, read_timeout_s=read_timeout_s
    )
    return OneShot(OpenAICompatibleBackend(config))


def answer_route(text: str) -> Route:
    """Streams ``text`` as one finished reply."""
    return sse_route([chunk(text, "stop")])


def facts_json(*facts: dict[str, Any]) -> str:
    return json.dumps({"facts": list(facts)})


def memory_route(*, chat: str, summary: str, facts: str) -> Route:
    """Answers each request by its system message: extraction, summary, or the chat."""

    def route(handler: Handler) -> None:
        body = handler.fake.seen[-1].body
        system = body["messages"][0]["content"]
        if system == EXTRACTION:
            answer_route(facts)(handler)
        elif system.startswith(SUMMARY_OPENING):
            answer_route(summary)(handler)
        else:
            answer_route(chat)(handler)

    return route


def memory_requests(seen: list[Seen]) -> list[list[dict[str, str]]]:
    """The messages of every summary and extraction request the server received."""
    bodies = [s.body for s in seen if s.path.endswith("/chat/completions")]
    return [
        b["messages"]
        for b in bodies
        if b["messages"][0]["content"] == EXTRACTION
        or b["messages"][0]["content"].startswith(SUMMARY_OPENING)
    ]
