"""The OpenAI-compatible backend against a local server that speaks the real protocol."""

from __future__ import annotations

import json
import threading
import time

import pytest

from client.llm import (
    BackendHTTPError,
    BackendTimeoutError,
    BackendUnreachableError,
    ChatMessage,
    ChatPrompt,
    MalformedReplyError,
    Reply,
    ServerConfig,
    StreamCutError,
    TextDelta,
    Usage,
    complete,
)
from client.llm.openai_compatible import OpenAICompatibleBackend
from tests.client.llm_fake_server import (
    Handler,
    chunk,
    completion,
    drop_connection,
    end_chunks,
    fake_server,
    free_port,
    send_json,
    sse_route,
    start_events,
    usage_chunk,
    write_chunk,
    write_event,
)

CHAT = ("POST", "/v1/chat/completions")


def make_prompt(text: str = "hello") -> ChatPrompt:
    messages = (ChatMessage("system", "You are a tutor."), ChatMessage("user", text))
    return ChatPrompt(messages=messages, user_message=text)


def make_backend(url: str, **overrides: object) -> OpenAICompatibleBackend:
    settings: dict[str, object] = {"connect_timeout_s": 1.0, "read_timeout_s": 2.0}
    settings.update(overrides)
    return OpenAICompatibleBackend(ServerConfig(base_url=url, model="llama3.2", **settings))  # type: ignore[arg-type]


def run(backend: OpenAICompatibleBackend) -> tuple[list[str], Reply]:
    events = list(backend.stream(make_prompt()))
    deltas = [e.text for e in events[:-1] if isinstance(e, TextDelta)]
    assert isinstance(events[-1], Reply)
    return deltas, events[-1]


def failure(backend: OpenAICompatibleBackend) -> tuple[list[str], BaseException]:
    pieces: list[str] = []
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the type is asserted by each test
        complete(backend, make_prompt(), on_text=pieces.append)
    return pieces, caught.value


def test_streamed_reply_arrives_in_pieces_with_the_usage_chunk() -> None:
    events = [chunk(None), chunk("Hel"), chunk("lo!"), chunk("", "stop")]
    events.append(usage_chunk(12, 3, choices=[]))
    with fake_server({CHAT: sse_route(events)}) as server:
        deltas, reply = run(make_backend(server.url))
        sent = server.seen[0]
    assert deltas == ["Hel", "lo!"]
    assert reply.text == "Hello!"
    assert reply.finish_reason == "stop"
    assert reply.usage == Usage(prompt_tokens=12, completion_tokens=3, total_tokens=15)
    assert reply.model == "llama3.2"
    assert not reply.offline
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["model"] == "llama3.2"
    assert sent.body["messages"][0] == {"role": "system", "content": "You are a tutor."}
    assert sent.headers["Accept"] == "text/event-stream"


def test_usage_chunk_with_null_choices_is_read() -> None:
    events = [chunk("Hi"), chunk(None, "stop"), usage_chunk(5, 1, choices=None)]
    with fake_server({CHAT: sse_route(events)}) as server:
        _, reply = run(make_backend(server.url))
    assert reply.text == "Hi"
    assert reply.usage is not None
    assert reply.usage.total_tokens == 6


def test_settings_reach_the_request_and_usage_can_be_left_out() -> None:
    events = [chunk("ok", "stop")]
    with fake_server({CHAT: sse_route(events)}) as server:
        backend = make_backend(
            server.url,
            api_key="sk-local",
            temperature=0.2,
            max_reply_tokens=64,
            include_usage=False,
        )
        _, reply = run(backend)
        sent = server.seen[0]
    assert reply.usage is None
    assert "stream_options" not in sent.body
    assert (sent.body["temperature"], sent.body["max_tokens"]) == (0.2, 64)
    assert sent.headers["Authorization"] == "Bearer sk-local"


def test_non_streamed_reply() -> None:
    def route(handler: Handler) -> None:
        send_json(handler, 200, completion("Bonjour."))

    with fake_server({CHAT: route}) as server:
        deltas, reply = run(make_backend(server.url, stream=False))
        sent = server.seen[0]
    assert deltas == ["Bonjour."]
    assert reply.text == "Bonjour."
    assert reply.usage == Usage(prompt_tokens=12, completion_tokens=3, total_tokens=15)
    assert sent.body["stream"] is False
    assert "stream_options" not in sent.body


def test_server_that_ignores_streaming_and_answers_json_still_works() -> None:
    def route(handler: Handler) -> None:
        send_json(handler, 200, completion("Whole."))

    with fake_server({CHAT: route}) as server:
        deltas, reply = run(make_backend(server.url))
    assert (deltas, reply.text) == (["Whole."], "Whole.")


def test_stream_without_done_but_with_a_finish_reason_is_complete() -> None:
    with fake_server({CHAT: sse_route([chunk("Done"), chunk(None, "length")], done=False)}) as s:
        _, reply = run(make_backend(s.url))
    assert (reply.text, reply.finish_reason) == ("Done", "length")


def test_http_500_becomes_one_line_with_the_servers_message() -> None:
    def route(handler: Handler) -> None:
        body = {"error": {"message": "CUDA out of memory\nwhile loading", "type": "server_error"}}
        send_json(handler, 500, body)

    with fake_server({CHAT: route}) as server:
        pieces, error = failure(make_backend(server.url))
    assert isinstance(error, BackendHTTPError)
    assert error.status == 500
    assert error.server_message == "CUDA out of memory while loading"
    assert error.user_line == (
        "The language model server answered HTTP 500: CUDA out of memory while loading"
    )
    assert "\n" not in error.user_line
    assert (pieces, error.partial_text) == ([], "")


def test_ollama_style_string_error_is_reported() -> None:
    def route(handler: Handler) -> None:
        send_json(handler, 404, {"error": 'model "llama9" not found, try pulling it first'})

    with fake_server({CHAT: route}) as server:
        _, error = failure(make_backend(server.url))
    assert isinstance(error, BackendHTTPError)
    assert error.user_line.endswith('model "llama9" not found, try pulling it first')


def test_error_event_in_the_middle_of_a_stream_keeps_the_text() -> None:
    error_event = json.dumps({"error": {"message": "context overflow", "code": 400}})
    with fake_server({CHAT: sse_route([chunk("Part"), error_event])}) as server:
        pieces, error = failure(make_backend(server.url))
    assert isinstance(error, BackendHTTPError)
    assert (error.status, error.partial_text, pieces) == (400, "Part", ["Part"])
    assert "context overflow" in error.user_line


def test_slow_server_times_out_on_read() -> None:
    release, answered = threading.Event(), threading.Event()

    def route(handler: Handler) -> None:
        release.wait(30)  # holds the answer until the client has given up (or 30 s)
        answered.set()
        send_json(handler, 200, completion("too late"))

    with fake_server({CHAT: route}) as server:
        _, error = failure(make_backend(server.url, read_timeout_s=0.2))
        gave_up_before_the_answer = not answered.is_set()
        release.set()
    assert isinstance(error, BackendTimeoutError)
    assert error.phase == "read"
    assert "did not start answering within 0.2 s" in error.user_line
    assert gave_up_before_the_answer


def test_server_that_stalls_mid_stream_keeps_the_text_so_far() -> None:
    def route(handler: Handler) -> None:
        start_events(handler)
        write_event(handler, chunk("The capital"))
        time.sleep(0.6)

    with fake_server({CHAT: route}) as server:
        pieces, error = failure(make_backend(server.url, read_timeout_s=0.2))
    assert isinstance(error, BackendTimeoutError)
    assert error.partial_text == "The capital"
    assert pieces == ["The capital"]
    assert "stopped sending" in error.user_line


def test_stream_that_ends_without_done_is_cut_and_keeps_the_text() -> None:
    with fake_server({CHAT: sse_route([chunk("Half "), chunk("a reply")], done=False)}) as s:
        pieces, error = failure(make_backend(s.url))
    assert isinstance(error, StreamCutError)
    assert error.partial_text == "Half a reply"
    assert pieces == ["Half ", "a reply"]
    assert "the reply so far is kept" in error.user_line


def test_connection_dropped_mid_chunk_is_a_cut_stream() -> None:
    def route(handler: Handler) -> None:
        start_events(handler)
        write_event(handler, chunk("Before the crash"))
        handler.wfile.write(b'40\r\ndata: {"choi')  # a chunk promised 64 bytes, sent 14
        drop_connection(handler)

    with fake_server({CHAT: route}) as server:
        _, error = failure(make_backend(server.url))
    assert isinstance(error, StreamCutError)
    assert error.partial_text == "Before the crash"


def test_malformed_chunk_json_keeps_the_text() -> None:
    events = [chunk("Fine so far"), '{"choices": [{"delta": {"content": "bro']
    with fake_server({CHAT: sse_route(events)}) as server:
        _, error = failure(make_backend(server.url))
    assert isinstance(error, MalformedReplyError)
    assert error.partial_text == "Fine so far"
    assert "not a JSON object" in error.user_line


def test_reply_that_is_not_an_event_stream_is_malformed() -> None:
    def route(handler: Handler) -> None:
        data = b"<html>proxy login</html>"
        handler.send_response(200)
        handler.send_header("Content-Type", "text/html")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    with fake_server({CHAT: route}) as server:
        _, error = failure(make_backend(server.url))
    assert isinstance(error, MalformedReplyError)


def test_connection_refused_on_a_free_port() -> None:
    backend = make_backend(f"http://127.0.0.1:{free_port()}/v1")
    _, error = failure(backend)
    assert isinstance(error, BackendUnreachableError)
    assert error.user_line.startswith("Cannot reach the language model server at http://127.0.0.1:")
    assert error.user_line.endswith("is it running?")


def test_keep_alive_comments_and_blank_events_are_skipped() -> None:
    def route(handler: Handler) -> None:
        start_events(handler)
        write_chunk(handler, b": ping\n\n")
        write_event(handler, chunk("A"))
        write_chunk(handler, b"data: \n\n")
        write_event(handler, chunk("B", "stop"))
        write_event(handler, "[DONE]")
        end_chunks(handler)

    with fake_server({CHAT: route}) as server:
        deltas, reply = run(make_backend(server.url))
    assert (deltas, reply.text) == (["A", "B"], "AB")
