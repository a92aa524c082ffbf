"""Keyed set digest over a table's records, so dropped, replayed or added rows are detected.

AEAD tags protect each record on its own, but cannot tell that a row was deleted or
replaced by an older, validly sealed version of itself. The digest is the XOR of one
HMAC-SHA256 per record over (address, sealed bytes): the XOR-MAC construction of
Bellare, Guerin and Rogaway (CRYPTO '95), which is incremental (one XOR per insert or
delete) and unforgeable without the key because each term is a PRF output.
It does not detect the rollback of a whole file to an older copy; the threat model says so.
"""

from __future__ import annotations

import hashlib
import hmac

from privacy.envelope import RecordAddress, SealedRecord

DIGEST_BYTES = 32
EMPTY_DIGEST = bytes(DIGEST_BYTES)


def record_term(key: bytes, address: RecordAddress, sealed: SealedRecord) -> bytes:
    """The digest term contributed by one stored record."""
    body = hashlib.sha256(sealed.wrapped_key + sealed.ciphertext).digest()
    return hmac.digest(key, address.associated_data("digest") + body, "sha256")


def xor(left: bytes, right: bytes) -> bytes:
    """Combine two digests (adding a term and removing it are the same operation)."""
    return (int.from_bytes(left, "big") ^ int.from_bytes(right, "big")).to_bytes(
        DIGEST_BYTES, "big"
    )


def keyed_tag(key: bytes, label: str, value: str) -> str:
    """A deterministic keyed hex tag for ``value``: an index meaningless without the key."""
    message = label.encode() + b"\0" + value.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def subkey(key: bytes, label: str) -> bytes:
    """Derive an independent subkey from ``key`` for one purpose (HMAC as a PRF)."""
    return hmac.new(key, b"fedpersona-subkey\0" + label.encode(), hashlib.sha256).digest()
