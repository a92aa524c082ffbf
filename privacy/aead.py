"""AES-256-GCM sealing with associated data.

A sealed blob is ``nonce (12 bytes) || ciphertext || tag (16 bytes)``. Nonces are random:
with 96-bit random nonces the collision bound stays negligible for far more messages per
key than a device ever writes (NIST SP 800-38D, section 8.3), and most keys here seal a
single record.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
OVERHEAD_BYTES = NONCE_BYTES + TAG_BYTES


class AuthenticationError(Exception):
    """A sealed blob did not authenticate: wrong key, wrong associated data, or altered bytes."""


def new_key() -> bytes:
    """Return a fresh random 256-bit key from the operating system's CSPRNG."""
    return os.urandom(KEY_BYTES)


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext``, binding it to ``associated_data``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def unseal(key: bytes, sealed: bytes, associated_data: bytes) -> bytes:
    """Return the plaintext of ``sealed``; raise AuthenticationError if it does not verify."""
    if len(sealed) < OVERHEAD_BYTES:
        raise AuthenticationError("sealed blob is shorter than nonce and tag")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated_data)
    except InvalidTag as error:
        raise AuthenticationError("authentication tag does not verify") from error
