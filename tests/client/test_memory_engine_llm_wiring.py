"""The LLM parts inside the engine and the chat: what reaches the server, what is stored, and
that `fedpersona chat --backend` uses them unless told not to."""

from __future__ import annotations

import json
from pathlib import Path

from cli.chat_command import memory_engine
from client.embedding import OnnxEmbedder
from client.llm import ServerConfig
from client.memory_engine import ExtractiveSummariser, MemoryEngine, RuleExtractor
from client.memory_engine.llm_extraction import LlmExtractor
from client.memory_engine.llm_parts import llm_memory_parts
from client.memory_engine.llm_summary import LlmSummariser
from client.profile import Profile
from tests.cli.chat_driver import new_store
from tests.client.llm_fake_server import Handler, fake_server, send_json
from tests.client.llm_memory_routes import CHAT, facts_json, memory_requests, memory_route
from tests.conftest import cli_env, run_cli

LINES = ["I moved to Lisbon last spring.", "I have two dogs, Rex and Bo."]
SUMMARY = "The user moved to Lisbon last spring and has two dogs."
LISBON = {"category": "demographics", "attribute": "location", "value": "Lisbon", "change": True}
PILOT = {"category": "demographics", "attribute": "occupation", "value": "airline pilot"}
ROUTE = memory_route(chat="Welcome to Lisbon!", summary=SUMMARY, facts=facts_json(LISBON, PILOT))


def _config(url: str) -> ServerConfig:
    return ServerConfig(base_url=url, model="llama3.2", connect_timeout_s=1, read_timeout_s=10)


def _earlier_session(profile: Profile, embedder: OnnxEmbedder) -> None:
    engine = MemoryEngine(profile, embedder)
    engine.add_turn("s1", "I keep bees on the roof of my flat.", at=1.0)
    engine.end_session("s1")
    engine.update_persona_now()


def _llm_session(profile: Profile, embedder: OnnxEmbedder, url: str) -> MemoryEngine:
    parts = llm_memory_parts(_config(url), embedder)
    engine = memory_engine(profile, embedder, parts)
    engine.add_turn("s2", LINES[0], at=10.0)
    engine.add_turn(
        "s2", "Lisbon is lovely in spring, how do you like it?", role="assistant", at=11
    )
    engine.add_turn("s2", LINES[1], at=12.0)
    engine.end_session("s2")
    engine.update_persona_now()
    parts.close()
    return engine


def test_the_engine_stores_the_models_summary_and_only_grounded_facts(profile, onnx_embedder):
    _earlier_session(profile, onnx_embedder)
    with fake_server({CHAT: ROUTE}) as server:
        engine = _llm_session(profile, onnx_embedder, server.url)

    summaries = {s.session_id: s.text for s in profile.memory.summaries()}
    assert summaries["s2"] == SUMMARY
    location = profile.persona.get("demographics", "location")
    assert location is not None
    assert location.value == "Lisbon"
    assert profile.persona.get("demographics", "occupation") is None  # "pilot" was never said
    assert isinstance(engine.extractor, LlmExtractor)
    assert isinstance(engine.summariser, LlmSummariser)


def test_only_the_users_own_lines_of_the_session_reach_the_server(profile, onnx_embedder):
    _earlier_session(profile, onnx_embedder)
    with fake_server({CHAT: ROUTE}) as server:
        _llm_session(profile, onnx_embedder, server.url)

    requests = memory_requests(server.seen)
    assert len(requests) == 3  # one extraction per user line, one summary
    sent = [messages[1]["content"] for messages in requests]
    assert sent == [LINES[0], LINES[1], "\n".join(LINES)]
    assert all(len(messages) == 2 for messages in requests)  # instruction + the text only
    everything = json.dumps([s.body for s in server.seen])
    assert "bees" not in everything  # no persona, memory or summary of another session
    assert "how do you like it" not in everything  # nor the assistant's side
    bodies = [s.body for s in server.seen]
    assert {(b["temperature"], b["max_tokens"]) for b in bodies} == {(0.0, 512)}


def test_remember_sends_only_what_is_to_be_remembered(profile, onnx_embedder):
    _earlier_session(profile, onnx_embedder)
    text = "Please remember that I moved to Lisbon."
    with fake_server({CHAT: ROUTE}) as server:
        parts = llm_memory_parts(_config(server.url), onnx_embedder)
        memory_engine(profile, onnx_embedder, parts).remember(text)
        parts.close()
    (messages,) = memory_requests(server.seen)
    assert messages[1] == {"role": "user", "content": text}
    location = profile.persona.get("demographics", "location")
    assert location is not None
    assert location.value == "Lisbon"


def _error(handler: Handler) -> None:
    send_json(handler, 500, {"error": "out of memory"})


def test_a_failing_server_loses_nothing_of_the_session(profile, onnx_embedder):
    with fake_server({CHAT: _error}) as server:
        _llm_session(profile, onnx_embedder, server.url)

    (summary,) = profile.memory.summaries()
    offline = ExtractiveSummariser(onnx_embedder, MemoryEngine(profile, onnx_embedder).counter)
    assert summary.text == offline.summarise(LINES, 120)
    location = profile.persona.get("demographics", "location")
    assert location is not None
    assert location.value == RuleExtractor().extract(LINES[0])[0].value == "Lisbon"
    turns = [i.text for i in profile.memory.items() if i.kind == "turn"]
    assert turns == LINES


def _chat(folder: Path, cache: Path, url: str, *extra: str) -> str:
    folder.mkdir()
    store = new_store(folder)
    env = {**cli_env(), "FEDPERSONA_CACHE_DIR": str(cache)}
    script = f"{LINES[0]}\n{LINES[1]}\n/end\n"
    options = ("--passphrase-env", "FP_PASS", "--backend", url, "--model", "llama3.2", *extra)
    result = run_cli("chat", "--store", str(store), *options, env=env, stdin=script)
    assert result.returncode == 0, result.stderr
    exported = run_cli(
        "store", "export", "--store", str(store), "--passphrase-env", "FP_PASS", env=cli_env()
    )
    return exported.stdout


def test_chat_with_a_backend_uses_the_model_for_memory_unless_switched_off(
    tmp_path: Path, encoder_cache: Path
) -> None:
    with fake_server({CHAT: ROUTE}) as server:
        exported = _chat(tmp_path / "on", encoder_cache, server.url)
    assert SUMMARY in exported
    assert len(memory_requests(server.seen)) == 3

    with fake_server({CHAT: ROUTE}) as server:
        exported = _chat(tmp_path / "off", encoder_cache, server.url, "--no-llm-memory")
    assert SUMMARY not in exported
    assert "Lisbon" in exported  # the offline parts wrote the session
    assert memory_requests(server.seen) == []
    chats = [s for s in server.seen if s.path.endswith("/chat/completions")]
    assert len(chats) == 2  # the chat itself still used the server, once a line
