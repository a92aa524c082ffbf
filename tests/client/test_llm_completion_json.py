"""Reading chat completions JSON as servers really send it."""

from __future__ import annotations

from typing import Any

import pytest

from client.llm import BackendHTTPError, MalformedReplyError, Usage
from client.llm.completion_json import (
    parse_object,
    parse_usage,
    raise_for_error_object,
    server_message,
    stream_chunk,
    whole_reply,
)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"error": {"message": "bad  request\n", "type": "invalid_request_error"}}, "bad request"),
        ({"error": "model not found"}, "model not found"),
        ({"detail": "Not Found"}, "Not Found"),
        ("plain text body", "plain text body"),
        ({"unexpected": 1}, '{"unexpected": 1}'),
        ("x" * 500, "x" * 300 + "..."),
    ],
)
def test_server_message_of_each_error_shape(body: Any, message: str) -> None:
    assert server_message(body) == message


@pytest.mark.parametrize(
    ("usage", "expected"),
    [
        (
            {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
            Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
        ),
        (
            {"prompt_tokens": 3, "completion_tokens": 2},
            Usage(prompt_tokens=3, completion_tokens=2, total_tokens=5),
        ),
        ({"prompt_tokens": "3", "completion_tokens": 2}, None),
        ({"prompt_tokens": True, "completion_tokens": 2}, None),
        (None, None),
    ],
)
def test_usage_is_read_only_when_made_of_counts(usage: Any, expected: Usage | None) -> None:
    assert parse_usage(usage) == expected


@pytest.mark.parametrize(
    "chunk",
    [
        {"choices": None, "usage": None},
        {"choices": []},
        {"choices": [{"delta": {"role": "assistant", "content": None}}]},
        {"choices": ["not an object"]},
        {},
    ],
)
def test_chunks_without_text_give_empty_text(chunk: dict[str, Any]) -> None:
    assert stream_chunk(chunk).text == ""


def test_non_objects_and_messageless_replies_are_malformed() -> None:
    with pytest.raises(MalformedReplyError, match="not a JSON object") as caught:
        parse_object("[1, 2]", partial_text="kept")
    assert caught.value.partial_text == "kept"
    with pytest.raises(MalformedReplyError, match="not a JSON object"):
        parse_object(b"\xff\xfe")
    with pytest.raises(MalformedReplyError, match="no message"):
        whole_reply({"choices": [{"text": "legacy completion"}]})


def test_error_objects_raise_but_completions_carrying_an_error_key_do_not() -> None:
    with pytest.raises(BackendHTTPError) as caught:
        raise_for_error_object({"error": {"message": "overloaded", "code": "busy"}})
    assert caught.value.status is None
    raise_for_error_object({"error": None, "choices": [{"delta": {"content": "x"}}]})
