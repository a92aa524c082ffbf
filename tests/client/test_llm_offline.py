"""The offline fallback, the per-turn fallback, and the contract both backends keep."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from client.app_profiles import builtin_profile
from client.llm import (
    BackendHTTPError,
    ChatBackend,
    ChatPrompt,
    OfflineBackend,
    Reply,
    ServerConfig,
    TextDelta,
    WithOfflineFallback,
    build_chat_prompt,
    choose_backend,
    complete,
)
from client.llm.offline import HOW_TO_CONNECT, NOT_CONNECTED, NOTHING_FOUND
from client.llm.openai_compatible import OpenAICompatibleBackend
from tests.client.llm_factories import fact, memory
from tests.client.llm_fake_server import (
    Handler,
    chunk,
    fake_server,
    free_port,
    send_json,
    sse_route,
)

CHAT = ("POST", "/v1/chat/completions")


def make_prompt(*, with_items: bool = True) -> ChatPrompt:
    persona = (
        [fact("Allergic to penicillin", score=0.9, item_id="health.allergy")] if with_items else []
    )
    memories = (
        [
            memory(
                "Had a rash after amoxicillin last spring", score=0.7, item_id="m-42", session="s-7"
            )
        ]
        if with_items
        else []
    )
    return build_chat_prompt(
        builtin_profile("health-information"),
        persona=persona,
        memories=memories,
        recent_turns=[],
        user_message="What am I allergic to?",
    )


def test_offline_says_no_model_and_lists_what_it_knows_with_provenance() -> None:
    reply = complete(OfflineBackend(), make_prompt())
    assert reply.offline
    assert reply.text.splitlines() == [
        NOT_CONNECTED,
        "Here is what I have on record that may be relevant to your message:",
        "- Allergic to penicillin (profile; health.allergy, from m-1)",
        "- Had a rash after amoxicillin last spring (memory; m-42, session s-7, 2026-11-02)",
        HOW_TO_CONNECT,
    ]


def test_offline_with_nothing_relevant_says_so_and_nothing_else() -> None:
    reply = complete(OfflineBackend(), make_prompt(with_items=False))
    assert reply.text.splitlines() == [NOT_CONNECTED, NOTHING_FOUND, HOW_TO_CONNECT]


def test_offline_orders_by_relevance_and_caps_the_list() -> None:
    items = [memory(f"memory {i}", score=i / 10, item_id=f"m-{i}") for i in range(6)]
    prompt = build_chat_prompt(
        builtin_profile("tutor"), persona=[], memories=items, recent_turns=[], user_message="q"
    )
    text = complete(OfflineBackend(max_items=3), prompt).text
    listed = [line.split(" (")[0] for line in text.splitlines() if line.startswith("- ")]
    assert listed == ["- memory 5", "- memory 4", "- memory 3"]


def test_no_server_configured_means_offline() -> None:
    backend = choose_backend(None)
    assert isinstance(backend, OfflineBackend)
    assert "no language model connected" in backend.describe()
    reply = complete(backend, make_prompt())
    assert reply.notice == "no language model server configured"


def test_unreachable_server_answers_offline_with_the_reason() -> None:
    config = ServerConfig(
        base_url=f"http://127.0.0.1:{free_port()}/v1", model="m", connect_timeout_s=1
    )
    backend = choose_backend(config)
    reply = complete(backend, make_prompt())
    backend.close()
    assert reply.offline
    assert reply.text.startswith(NOT_CONNECTED)
    assert reply.notice is not None
    assert reply.notice.startswith("Cannot reach the language model server")


def test_reachable_server_that_fails_is_not_hidden_behind_the_fallback() -> None:
    def route(handler: Handler) -> None:
        send_json(handler, 503, {"error": {"message": "loading model"}})

    with fake_server({CHAT: route}) as server:
        backend = choose_backend(ServerConfig(base_url=server.url, model="m"))
        with pytest.raises(BackendHTTPError, match="loading model"):
            complete(backend, make_prompt())
        backend.close()


def test_reachable_server_answers_through_the_fallback_wrapper() -> None:
    with fake_server({CHAT: sse_route([chunk("Penicillin.", "stop")])}) as server:
        backend = choose_backend(ServerConfig(base_url=server.url, model="m"))
        assert isinstance(backend, WithOfflineFallback)
        reply = complete(backend, make_prompt())
        backend.close()
    assert (reply.text, reply.offline, reply.notice) == ("Penicillin.", False, None)


@pytest.fixture(params=["offline", "openai-compatible"])
def any_backend(request: pytest.FixtureRequest) -> Iterator[ChatBackend]:
    if request.param == "offline":
        yield OfflineBackend()
        return
    events = [chunk("One, "), chunk("two."), chunk(None, "stop")]
    with fake_server({CHAT: sse_route(events)}) as server:
        backend = OpenAICompatibleBackend(
            ServerConfig(base_url=server.url, model="m", context_length=2048)
        )
        yield backend
        backend.close()


def test_backend_contract(any_backend: ChatBackend) -> None:
    events = list(any_backend.stream(make_prompt()))
    *deltas, last = events
    assert isinstance(any_backend, ChatBackend)
    assert isinstance(last, Reply)
    assert all(isinstance(d, TextDelta) for d in deltas)
    assert last.text == "".join(d.text for d in deltas if isinstance(d, TextDelta))
    assert last.text
    assert any_backend.context_length() > 0
    line = any_backend.describe()
    assert line
    assert "\n" not in line
    any_backend.close()
    any_backend.close()  # twice is fine
