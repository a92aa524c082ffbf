"""Asking the server for its context window: Ollama, llama.cpp, vLLM, or the configured value."""

from __future__ import annotations

from typing import Any

import pytest

from client.llm import ContextWindow, ServerConfig
from client.llm.openai_compatible import OpenAICompatibleBackend
from tests.client.llm_fake_server import Handler, Route, fake_server, free_port, send_json

OLLAMA_SHOW: dict[str, Any] = {
    "modelfile": "FROM llama3.2",
    "parameters": 'stop "<|eot_id|>"',
    "details": {"family": "llama", "parameter_size": "3.2B"},
    "model_info": {
        "general.architecture": "llama",
        "llama.block_count": 28,
        "llama.context_length": 131072,
        "llama.embedding_length": 3072,
    },
}


def answer(body: Any, status: int = 200) -> Route:
    def route(handler: Handler) -> None:
        send_json(handler, status, body)

    return route


def window_of(url: str, **overrides: Any) -> ContextWindow:
    config = ServerConfig(base_url=url, model="llama3.2", connect_timeout_s=1.0, **overrides)
    with OpenAICompatibleBackend(config) as backend:
        window = backend.context_window()
        assert backend.context_length() == window.tokens
        return window


def test_ollama_api_show_gives_the_models_context_length() -> None:
    with fake_server({("POST", "/api/show"): answer(OLLAMA_SHOW)}) as server:
        window = window_of(server.url)
        show = [seen for seen in server.seen if seen.path == "/api/show"]
    assert window == ContextWindow(tokens=131072, source="Ollama /api/show")
    assert show[0].body == {"model": "llama3.2"}


def test_ollama_num_ctx_parameter_wins_over_the_trained_length() -> None:
    body = dict(OLLAMA_SHOW, parameters='num_ctx                        8192\nstop "<|eot_id|>"')
    with fake_server({("POST", "/api/show"): answer(body)}) as server:
        assert window_of(server.url).tokens == 8192


def test_llama_cpp_props_gives_n_ctx() -> None:
    props = {
        "default_generation_settings": {"n_ctx": 4096, "model": "qwen2.5-0.5b"},
        "total_slots": 1,
    }
    with fake_server({("GET", "/props"): answer(props)}) as server:
        window = window_of(server.url)
    assert window == ContextWindow(tokens=4096, source="llama.cpp /props")


def test_vllm_models_gives_max_model_len() -> None:
    models = {
        "object": "list",
        "data": [
            {"id": "other", "max_model_len": 2048},
            {"id": "llama3.2", "max_model_len": 32768},
        ],
    }
    with fake_server({("GET", "/v1/models"): answer(models)}) as server:
        assert window_of(server.url).tokens == 32768


def test_configured_length_overrides_and_asks_nothing() -> None:
    with fake_server(
        {("GET", "/props"): answer({"default_generation_settings": {"n_ctx": 512}})}
    ) as s:
        window = window_of(s.url, context_length=3000)
        asked = list(s.seen)
    assert window == ContextWindow(tokens=3000, source="configured")
    assert asked == []


@pytest.mark.parametrize(
    "routes",
    [
        {},  # every probe answers 404
        {("GET", "/props"): answer({"default_generation_settings": {"n_ctx": "big"}})},
        {("POST", "/api/show"): answer({"model_info": {"llama.context_length": -1}})},
        {("GET", "/props"): answer({"error": "boom"}, status=500)},
    ],
)
def test_server_that_does_not_say_falls_back_to_the_default(routes: dict[Any, Route]) -> None:
    with fake_server(routes) as server:
        window = window_of(server.url, default_context_length=2048)
    assert window.tokens == 2048
    assert window.source.startswith("default")


def test_unreachable_server_falls_back_to_the_default() -> None:
    window = window_of(f"http://127.0.0.1:{free_port()}/v1")
    assert window.tokens == 4096


def test_discovery_is_asked_once() -> None:
    with fake_server(
        {("GET", "/props"): answer({"default_generation_settings": {"n_ctx": 4096}})}
    ) as s:
        config = ServerConfig(base_url=s.url, model="m", connect_timeout_s=1.0)
        with OpenAICompatibleBackend(config) as backend:
            backend.context_length()
            backend.context_length()
        assert len(s.seen) == 1
