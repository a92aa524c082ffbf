"""Where a device joins: the SuperLink's Fleet API address, and how the link is secured.

TLS is the rule: the device checks the SuperLink's certificate (``--root-certificates``, or
the system's trust store). ``--insecure`` sends everything in the clear, so it is refused
for any host but this machine's loopback (127.0.0.0/8, ::1, localhost): on loopback the
bytes never leave the machine, anywhere else anyone on the path could read or change them.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from pathlib import Path

from cli.failures import UsageError

REACH_TIMEOUT_S = 5.0


class SuperLinkUnreachableError(UsageError):
    """Nothing answers at the SuperLink's address (exit code 2: check the address)."""


@dataclass(frozen=True)
class SuperLinkAddress:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> SuperLinkAddress:
        """``HOST:PORT``, ``[IPv6]:PORT``; no URL prefix (Flower's own format)."""
        host, sep, port = text.rpartition(":")
        if text.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        if not sep or not host or "://" in text or not port.isdigit():
            raise UsageError(f"--superlink {text!r}: expected HOST:PORT, e.g. 192.0.2.7:9092")
        if not 0 < int(port) < 65536:
            raise UsageError(f"--superlink {text!r}: port {port} is outside 1-65535")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a name other than localhost may resolve anywhere


def check_transport(
    address: SuperLinkAddress,
    *,
    insecure: bool,
    root_certificates: Path | None,
    auth_key: Path | None,
) -> None:
    """Refuse a link that would not be what the person asked for, before anything starts."""
    if insecure and not address.is_loopback:
        raise UsageError(
            f"--insecure is for loopback only, and {address.host} is not this machine; "
            "connect with TLS: pass the SuperLink's CA certificate as --root-certificates PEM"
        )
    if insecure and root_certificates is not None:
        raise UsageError("--insecure and --root-certificates contradict each other; pick one")
    if insecure and auth_key is not None:
        raise UsageError("SuperNode authentication (--auth-key) needs TLS; drop --insecure")
    for name, path in (("--root-certificates", root_certificates), ("--auth-key", auth_key)):
        if path is not None and not path.is_file():
            raise UsageError(f"{name} {path}: no such file")


def check_reachable(address: SuperLinkAddress, timeout: float = REACH_TIMEOUT_S) -> None:
    """A TCP connection to the SuperLink, so that a wrong address is one clear line
    instead of a SuperNode that retries forever."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SuperLinkUnreachableError(
            f"cannot reach a SuperLink at {address} ({reason}); check the address and that "
            "the SuperLink is running; nothing was started"
        ) from None
