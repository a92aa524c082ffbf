"""The SuperLink address a device joins, and which links it refuses before starting anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli.failures import UsageError
from cli.superlink_address import SuperLinkAddress, check_transport


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("127.0.0.1:9092", "127.0.0.1", 9092),
        ("[::1]:9092", "::1", 9092),
        ("fl.example:1", "fl.example", 1),
    ],
)
def test_addresses_parse_as_flower_writes_them(text, host, port):
    address = SuperLinkAddress.parse(text)
    assert (address.host, address.port) == (host, port)
    assert str(address) == text


@pytest.mark.parametrize(
    "text", ["9092", "https://fl.example:9092", "fl.example:", "h:0", "h:70000"]
)
def test_malformed_addresses_are_refused_by_name(text):
    with pytest.raises(UsageError, match="--superlink"):
        SuperLinkAddress.parse(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.0.3", True), ("::1", True), ("localhost", True),
     ("192.168.1.2", False), ("fl.example", False), ("localhost.example", False)],
)  # fmt: skip
def test_loopback_is_this_machine_only(host, loopback):
    assert SuperLinkAddress(host, 9092).is_loopback is loopback


def test_insecure_loopback_is_allowed_and_contradictions_are_refused(tmp_path: Path):
    loopback = SuperLinkAddress("127.0.0.1", 9092)
    check_transport(loopback, insecure=True, root_certificates=None, auth_key=None)
    pem = tmp_path / "ca.pem"
    pem.write_text("not read here")
    with pytest.raises(UsageError, match="contradict"):
        check_transport(loopback, insecure=True, root_certificates=pem, auth_key=None)
    with pytest.raises(UsageError, match="needs TLS"):
        check_transport(loopback, insecure=True, root_certificates=None, auth_key=pem)
    with pytest.raises(UsageError, match="no such file"):
        check_transport(
            SuperLinkAddress("fl.example", 9092),
            insecure=False,
            root_certificates=tmp_path / "missing.pem",
            auth_key=None,
        )
