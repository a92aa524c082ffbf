"""The LLM summariser against a local server speaking the real protocol: the model's summary
within the budget, and the extractive one whenever the model's answer cannot be used."""

from __future__ import annotations

import time

import pytest

from client.embedding import OnnxEmbedder
from client.memory_engine import ExtractiveSummariser, WordCounter
from client.memory_engine.llm_summary import LlmSummariser, fit_sentences, instruction_for
from tests.client.llm_fake_server import (
    Handler,
    chunk,
    end_chunks,
    fake_server,
    free_port,
    send_json,
    sse_route,
    start_events,
    write_event,
)
from tests.client.llm_memory_routes import CHAT, answer_route, one_shot

LINES = [
    "I started learning the cello in September.",
    "My teacher lives in Oslo and gives lessons online.",
    "I practise scales every morning before work.",
]
COUNTER = WordCounter()


@pytest.fixture
def extractive(onnx_embedder: OnnxEmbedder) -> ExtractiveSummariser:
    return ExtractiveSummariser(onnx_embedder, COUNTER)


def _summarise(
    url: str, extractive: ExtractiveSummariser, budget: int
) -> tuple[LlmSummariser, str]:
    summariser = LlmSummariser(one_shot(url), extractive, COUNTER)
    return summariser, summariser.summarise(LINES, budget)


def test_a_summary_within_budget_is_the_models_and_only_the_lines_are_sent(extractive):
    answer = "The user learns the cello with a teacher in Oslo. The user practises daily."
    with fake_server({CHAT: answer_route(answer)}) as server:
        summariser, summary = _summarise(server.url, extractive, 60)
    assert summary == answer
    assert summariser.last is not None
    assert summariser.last.source == "llm"
    (request,) = [s.body for s in server.seen]
    assert request["messages"] == [
        {"role": "system", "content": instruction_for(60)},
        {"role": "user", "content": "\n".join(LINES)},
    ]
    assert "at most 60 tokens" in request["messages"][0]["content"]
    assert set(request) == {"model", "messages", "stream", "stream_options"}  # nothing else


def test_an_answer_over_budget_keeps_its_leading_whole_sentences(extractive):
    sentences = ["The user learns the cello.", "A teacher in Oslo helps.", "Scales come daily."]
    budget = COUNTER.count(" ".join(sentences[:2]))  # room for two sentences, not three
    with fake_server({CHAT: answer_route(" ".join(sentences))}) as server:
        summariser, summary = _summarise(server.url, extractive, budget)
    assert summary == " ".join(sentences[:2])
    assert COUNTER.count(summary) <= budget
    assert summariser.last is not None
    assert summariser.last.truncated


def test_a_sentence_cut_by_the_servers_length_cap_is_dropped():
    text, truncated = fit_sentences(
        "The user plays cello. The user also lov", COUNTER, 50, cut=True
    )
    assert (text, truncated) == ("The user plays cello.", True)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (" ".join(["The user talked about the cello and about lessons"] * 6) + ".", "over budget"),
        ("   ", "empty"),
    ],
)
def test_an_over_long_or_empty_answer_falls_back_to_the_extractive_summary(
    extractive, answer, reason
):
    with fake_server({CHAT: answer_route(answer)}) as server:
        summariser, summary = _summarise(server.url, extractive, 20)
    assert summary == extractive.summarise(LINES, 20)
    assert summary  # the session still has one
    assert summariser.last is not None
    assert summariser.last.source == "extractive"
    assert reason in summariser.last.reason


def _error(handler: Handler) -> None:
    send_json(handler, 500, {"error": "model crashed"})


def _garbage(handler: Handler) -> None:
    sse_route(["{not json"])(handler)


def _too_slow(handler: Handler) -> None:
    start_events(handler)
    time.sleep(3)  # longer than the client's read timeout below
    try:
        write_event(handler, chunk("late", "stop"))
        end_chunks(handler)
    except (BrokenPipeError, ConnectionResetError):
        return


@pytest.mark.parametrize(
    ("route", "reason"),
    [(_error, "HTTP 500"), (_garbage, "not a JSON object"), (_too_slow, "within 0.5 s")],
)
def test_a_server_failure_falls_back_and_says_why(extractive, route, reason, caplog):
    with fake_server({CHAT: route}) as server:
        summariser = LlmSummariser(one_shot(server.url, read_timeout_s=0.5), extractive, COUNTER)
        summary = summariser.summarise(LINES, 30)
    assert summary == extractive.summarise(LINES, 30)
    assert summariser.last is not None
    assert reason in summariser.last.reason
    assert "session summary written offline" in caplog.text


def test_an_absent_server_is_asked_once_then_not_again(extractive):
    url = f"http://127.0.0.1:{free_port()}/v1"
    summariser = LlmSummariser(one_shot(url), extractive, COUNTER)
    first = summariser.summarise(LINES, 30)
    assert summariser.last is not None
    assert "Cannot reach" in summariser.last.reason
    second = summariser.summarise(LINES, 30)
    assert summariser.last.reason.startswith("not asked: Cannot reach")
    assert first == second == extractive.summarise(LINES, 30)
