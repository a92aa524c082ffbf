"""Server settings are checked once, with errors that name the bad value."""

from __future__ import annotations

from typing import Any

import pytest

from client.llm import ServerConfig


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"base_url": "127.0.0.1:11434/v1"}, "base_url"),
        ({"base_url": "ftp://host/v1"}, "base_url"),
        ({"model": "  "}, "model"),
        ({"connect_timeout_s": 0}, "connect_timeout_s"),
        ({"read_timeout_s": float("inf")}, "read_timeout_s"),
        ({"temperature": 3.0}, "temperature"),
        ({"context_length": 0}, "context_length"),
        ({"max_reply_tokens": 1.5}, "max_reply_tokens"),
    ],
)
def test_bad_settings_are_refused_by_name(overrides: dict[str, Any], field: str) -> None:
    settings: dict[str, Any] = {"base_url": "http://127.0.0.1:11434/v1", "model": "llama3.2"}
    settings.update(overrides)
    with pytest.raises(ValueError, match=f"^{field}:"):
        ServerConfig(**settings)


@pytest.mark.parametrize(
    ("base_url", "api_root", "server_root"),
    [
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1", "http://127.0.0.1:11434"),
        ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1", "http://127.0.0.1:8080"),
        ("http://localhost:1234", "http://localhost:1234", "http://localhost:1234"),
    ],
)
def test_roots_are_derived_from_the_base_url(
    base_url: str, api_root: str, server_root: str
) -> None:
    config = ServerConfig(base_url=base_url, model="m")
    assert (config.api_root, config.server_root) == (api_root, server_root)
