"""A small chat completions server on 127.0.0.1 for the backend tests.

It speaks HTTP/1.1 with chunked transfer encoding, as Ollama, llama.cpp and vLLM do
when they stream, so a stream can be ended cleanly, ended without ``[DONE]``, or cut in
the middle of a chunk (the connection dropped), and each reaches the client the way
a real server's would. Routes are plain functions of the request handler.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["Handler"], None]


@dataclass
class Seen:
    """A request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeServer:
    url: str  # the API root, ending in /v1
    routes: dict[tuple[str, str], Route]
    seen: list[Seen] = field(default_factory=list)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeServer

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        self.fake.seen.append(Seen(method, self.path, dict(self.headers), body))
        route = self.fake.routes.get((method, self.path))
        try:
            if route is None:
                send_json(self, 404, {"error": f"no route {method} {self.path}"})
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            # The client hung up first (the timeout tests make it): a real server drops
            # the reply too; without this, socketserver prints a traceback into the run.
            self.close_connection = True

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


def start_events(handler: BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/event-stream")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()


def write_chunk(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
    handler.wfile.flush()


def write_event(handler: BaseHTTPRequestHandler, data: str) -> None:
    write_chunk(handler, f"data: {data}\n\n".encode())


def end_chunks(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"0\r\n\r\n")
    handler.wfile.flush()


def drop_connection(handler: BaseHTTPRequestHandler) -> None:
    """Cut the connection as a crashed server would: no final chunk."""
    handler.close_connection = True
    handler.wfile.flush()
    handler.connection.shutdown(socket.SHUT_RDWR)


def sse_route(events: Sequence[str], *, done: bool = True, pause_s: float = 0.0) -> Route:
    """A route that streams ``events`` (JSON strings), then ``[DONE]`` if ``done``."""

    def route(handler: Handler) -> None:
        start_events(handler)
        for event in events:
            write_event(handler, event)
            time.sleep(pause_s)
        if done:
            write_event(handler, "[DONE]")
        end_chunks(handler)

    return route


def chunk(content: str | None = None, finish: str | None = None, *, model: str = "llama3.2") -> str:
    """A ``chat.completion.chunk`` as Ollama's OpenAI endpoint writes it."""
    delta: dict[str, Any] = {"role": "assistant"}
    if content is not None:
        delta["content"] = content
    return json.dumps(
        {
            "id": "chatcmpl-7",
            "object": "chat.completion.chunk",
            "created": 1764460800,
            "model": model,
            "system_fingerprint": "fp_ollama",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def usage_chunk(prompt: int, completion: int, *, choices: Any) -> str:
    """The last chunk under ``stream_options.include_usage``: ``choices`` is [] or null."""
    return json.dumps(
        {
            "id": "chatcmpl-7",
            "object": "chat.completion.chunk",
            "model": "llama3.2",
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }
    )


def completion(content: str, *, prompt: int = 12, completion_tokens: int = 3) -> dict[str, Any]:
    """A non-streamed ``chat.completion``."""
    return {
        "id": "chatcmpl-8",
        "object": "chat.completion",
        "model": "llama3.2",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
    }


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up while its request line is still being read (outside the
        # handler's own guard above) is no error of the test's either.
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)


@contextmanager
def fake_server(routes: dict[tuple[str, str], Route]) -> Iterator[FakeServer]:
    """Serve ``routes`` on a free port of 127.0.0.1 for the duration of the block."""
    fake = FakeServer(url="", routes=routes)
    handler = type("BoundHandler", (Handler,), {"fake": fake})
    server = _Server(("127.0.0.1", 0), handler)
    server.daemon_threads = True  # a handler still sleeping (slow server) must not block exit
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
