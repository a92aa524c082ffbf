"""Asking a local server how large its context window is, where it can tell.

- llama.cpp's server: ``GET /props`` -> ``default_generation_settings.n_ctx`` (the window
  it was started with, ``-c``).
- Ollama: ``POST /api/show {"model": ...}``. A ``num_ctx`` among the model's
  ``parameters`` is the window Ollama runs it with; otherwise ``model_info`` has
  ``<architecture>.context_length``, the most the model was trained for. Ollama may run
  a smaller window than that (``OLLAMA_CONTEXT_LENGTH``): set ``context_length`` in the
  config to that value when it does.
- vLLM: ``GET /v1/models`` -> the model's ``max_model_len``.

Discovery never fails a chat: any error, a missing endpoint or an answer without a
usable number falls through to the next source, then to the configured default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from client.llm.server_config import ContextWindow, ServerConfig


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _json_or_none(response: httpx.Response) -> Any:
    if response.is_error:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def from_llama_cpp_props(body: Any) -> int | None:
    """``n_ctx`` from llama.cpp's ``/props`` answer."""
    settings = body.get("default_generation_settings") if isinstance(body, dict) else None
    return _positive_int(settings.get("n_ctx")) if isinstance(settings, dict) else None


def _num_ctx_parameter(parameters: Any) -> int | None:
    # Ollama's "parameters" is Modelfile text, one "name value" per line.
    if not isinstance(parameters, str):
        return None
    for line in parameters.splitlines():
        name, _, value = line.strip().partition(" ")
        if name == "num_ctx" and value.strip().isdigit():
            return _positive_int(int(value.strip()))
    return None


def from_ollama_show(body: Any) -> int | None:
    """``num_ctx`` from the parameters, else ``*.context_length`` from Ollama's ``/api/show``."""
    if not isinstance(body, dict):
        return None
    configured = _num_ctx_parameter(body.get("parameters"))
    if configured is not None:
        return configured
    info = body.get("model_info")
    if not isinstance(info, dict):
        return None
    lengths = [_positive_int(v) for k, v in info.items() if k.endswith(".context_length")]
    return next((n for n in lengths if n is not None), None)


def from_vllm_models(body: Any, model: str) -> int | None:
    """``max_model_len`` of ``model`` (or of the only model) from ``/v1/models``."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    entries = [e for e in data if isinstance(e, dict)]
    chosen = [e for e in entries if e.get("id") == model] or (entries if len(entries) == 1 else [])
    return _positive_int(chosen[0].get("max_model_len")) if chosen else None


def discover_context_window(config: ServerConfig, client: httpx.Client) -> ContextWindow:
    """The context window to fit prompts to: configured, else the server's, else the default.

    Each probe waits at most the connect timeout for a reply, so a server that does not
    know these endpoints costs at most a few short waits, once per backend.
    """
    if config.context_length is not None:
        return ContextWindow(tokens=config.context_length, source="configured")
    probe_timeout = httpx.Timeout(config.connect_timeout_s)
    root = config.server_root

    def llama_cpp() -> int | None:
        return from_llama_cpp_props(
            _json_or_none(client.get(root + "/props", timeout=probe_timeout))
        )

    def ollama() -> int | None:
        answer = client.post(
            root + "/api/show", json={"model": config.model}, timeout=probe_timeout
        )
        return from_ollama_show(_json_or_none(answer))

    def vllm() -> int | None:
        answer = client.get(config.api_root + "/models", timeout=probe_timeout)
        return from_vllm_models(_json_or_none(answer), config.model)

    probes: list[tuple[str, Callable[[], int | None]]] = [
        ("llama.cpp /props", llama_cpp),
        ("Ollama /api/show", ollama),
        ("vLLM /v1/models", vllm),
    ]
    for source, probe in probes:
        try:
            tokens = probe()
        except (httpx.ConnectError, httpx.ConnectTimeout):
            break  # nothing listens: the other probes would wait just the same
        except httpx.HTTPError:
            continue
        if tokens is not None:
            return ContextWindow(tokens=tokens, source=source)
    return ContextWindow(
        tokens=config.default_context_length, source="default (server did not say)"
    )
