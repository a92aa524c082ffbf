"""A TCP proxy that records every byte in each direction (the wire-capture test's tap).

Listens on a free loopback port and forwards each connection to ``upstream``; one thread
per direction per connection. What the clients send upstream is kept in ``sent``, what
comes back in ``received``; both only grow while the proxy runs.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class RecordingProxy:
    def __init__(self, upstream: tuple[str, int], host: str = "127.0.0.1") -> None:
        self._upstream = upstream
        self._listener = socket.create_server((host, 0))
        self.address = f"{host}:{self._listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._sent = bytearray()
        self._received = bytearray()
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()

    @property
    def sent(self) -> bytes:
        """Everything the clients sent, in arrival order per connection chunk."""
        with self._lock:
            return bytes(self._sent)

    @property
    def received(self) -> bytes:
        with self._lock:
            return bytes(self._received)

    def __enter__(self) -> RecordingProxy:
        self._spawn(self._accept)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the listener was closed
            try:
                server = socket.create_connection(self._upstream)
            except OSError:
                client.close()
                continue
            self.connections += 1
            self._sockets += [client, server]
            self._spawn(self._pump, client, server, self._sent)
            self._spawn(self._pump, server, client, self._received)

    def _pump(self, source: socket.socket, sink: socket.socket, record: bytearray) -> None:
        while True:
            try:
                chunk = source.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            with self._lock:
                record.extend(chunk)
            try:
                sink.sendall(chunk)
            except OSError:
                return
