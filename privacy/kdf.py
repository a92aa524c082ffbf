"""Passphrase -> key-encryption key, through a memory-hard KDF.

Argon2id is the default (RFC 9106; OWASP's password storage guidance names it first).
Its parameters live in the store's header, so a store can raise them later (re-deriving
the key and re-wrapping the data keys) without touching the data. scrypt is accepted for
stores written with it, and as the fallback where the linked OpenSSL lacks Argon2.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

KEK_BYTES = 32
SALT_BYTES = 16
ALGORITHMS = ("argon2id", "scrypt")

# Defaults: 64 MiB, 3 passes, 1 lane unlocks in a few hundred ms on this project's
# 2-core machine (bench/store.py measures it) while costing an offline guesser the same
# 64 MiB per guess. RFC 9106's second recommended option is 64 MiB, t=3, p=4; one lane
# keeps the time the same on a single-core phone.
DEFAULT_MEMORY_KIB = 64 * 1024
DEFAULT_ITERATIONS = 3
DEFAULT_LANES = 1
# Floors below which a KDF no longer protects a stolen file in any meaningful way.
MIN_MEMORY_KIB = 8 * 1024
MIN_ITERATIONS = 1
# Ceilings: the parameters are read from the store file, so a tampered (or absurd) header
# must not make unlocking hang for hours or ask for terabytes. 4 GiB and 100 passes are far
# above any setting a phone or laptop can unlock with; Argon2's own lane limit is 2^24 - 1.
MAX_MEMORY_KIB = 4 * 1024 * 1024
MAX_ITERATIONS = 100
MAX_LANES = 64


@dataclass(frozen=True, kw_only=True)
class KdfParams:
    """How the key-encryption key is derived; stored in the clear in the store header.

    For Argon2id, ``memory_kib``/``iterations``/``lanes`` are m, t and p of RFC 9106. For
    scrypt, ``memory_kib`` sets N = memory_kib * 1024 / (128 * r) with r = 8, and
    ``iterations`` is p.
    """

    algorithm: str = "argon2id"
    memory_kib: int = DEFAULT_MEMORY_KIB
    iterations: int = DEFAULT_ITERATIONS
    lanes: int = DEFAULT_LANES
    salt: bytes = field(default_factory=lambda: os.urandom(SALT_BYTES))

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"Unknown KDF algorithm {self.algorithm!r}; use one of {ALGORITHMS}.")
        if self.memory_kib < MIN_MEMORY_KIB:
            raise ValueError(
                f"KDF memory {self.memory_kib} KiB is below the floor of {MIN_MEMORY_KIB} KiB."
            )
        if self.memory_kib > MAX_MEMORY_KIB:
            raise ValueError(
                f"KDF memory {self.memory_kib} KiB is above the ceiling of {MAX_MEMORY_KIB} KiB."
            )
        if not MIN_ITERATIONS <= self.iterations <= MAX_ITERATIONS:
            raise ValueError(
                f"KDF iterations must be in [{MIN_ITERATIONS}, {MAX_ITERATIONS}], "
                f"got {self.iterations}."
            )
        if not 1 <= self.lanes <= MAX_LANES:
            raise ValueError(f"KDF lanes must be in [1, {MAX_LANES}], got {self.lanes}.")
        if self.algorithm == "scrypt" and self.memory_kib & (self.memory_kib - 1):
            raise ValueError(f"scrypt memory must be a power of two KiB, got {self.memory_kib}.")
        if len(self.salt) < SALT_BYTES:
            raise ValueError(f"KDF salt must be at least {SALT_BYTES} bytes, got {len(self.salt)}.")

    def to_json(self) -> dict[str, Any]:
        return {
            "algorithm": self.algorithm,
            "memory_kib": self.memory_kib,
            "iterations": self.iterations,
            "lanes": self.lanes,
            "salt": self.salt.hex(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KdfParams:
        return cls(
            algorithm=str(data["algorithm"]),
            memory_kib=int(data["memory_kib"]),
            iterations=int(data["iterations"]),
            lanes=int(data["lanes"]),
            salt=bytes.fromhex(str(data["salt"])),
        )

    def is_weaker_than(self, other: KdfParams) -> bool:
        """True when ``other`` costs a guesser more memory or more passes than these params."""
        return self.memory_kib < other.memory_kib or self.iterations < other.iterations


def argon2id_available() -> bool:
    """Whether the OpenSSL behind ``cryptography`` implements Argon2id."""
    try:
        Argon2id(salt=b"\0" * SALT_BYTES, length=KEK_BYTES, iterations=1, lanes=1, memory_cost=8)
    except UnsupportedAlgorithm:
        return False
    return True


def default_params() -> KdfParams:
    """Fresh default parameters (new random salt)."""
    return KdfParams(algorithm="argon2id" if argon2id_available() else "scrypt")


def derive_kek(passphrase: str, params: KdfParams) -> bytes:
    """Derive the 256-bit key-encryption key from ``passphrase`` under ``params``."""
    if not passphrase:
        raise ValueError("The passphrase must not be empty.")
    secret = passphrase.encode("utf-8")
    if params.algorithm == "argon2id":
        return Argon2id(
            salt=params.salt,
            length=KEK_BYTES,
            iterations=params.iterations,
            lanes=params.lanes,
            memory_cost=params.memory_kib,
        ).derive(secret)
    block_size = 8
    cost = params.memory_kib * 1024 // (128 * block_size)
    return Scrypt(
        salt=params.salt, length=KEK_BYTES, n=cost, r=block_size, p=params.iterations
    ).derive(secret)
