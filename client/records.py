"""Helpers shared by the record types: JSON (de)serialisation, ids, clocks, validation."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import numpy as np
import numpy.typing as npt

JsonValue = str | int | float | bool | None | list[Any] | dict[str, Any]
Embedding = npt.NDArray[np.float32]


class RecordFormatError(ValueError):
    """A record or an import file does not have the expected shape; the message says where."""


def new_record_id() -> str:
    """A random 128-bit id: reveals nothing about the record and never collides in practice."""
    return secrets.token_hex(16)


def now() -> float:
    return time.time()


def to_payload(data: dict[str, Any]) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def from_payload(payload: bytes) -> dict[str, Any]:
    data = json.loads(payload.decode("utf-8"))
    if not isinstance(data, dict):
        raise RecordFormatError("record payload is not a JSON object")
    return data


def encode_embedding(embedding: Embedding | None) -> str | None:
    if embedding is None:
        return None
    return base64.b64encode(np.asarray(embedding, dtype="<f4").tobytes()).decode("ascii")


def decode_embedding(encoded: object) -> Embedding | None:
    if encoded is None:
        return None
    if isinstance(encoded, list):  # a hand-written import file may list the numbers
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in encoded):
            raise RecordFormatError("embedding must be a flat list of numbers")
        vector = np.asarray(encoded, dtype=np.float64)
        if not np.all(np.isfinite(vector)) or np.any(np.abs(vector) > np.finfo(np.float32).max):
            raise RecordFormatError("embedding holds a number that is not a finite float32")
        return vector.astype(np.float32)
    if not isinstance(encoded, str):
        raise RecordFormatError("embedding must be base64 text, a list of numbers or null")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except ValueError as error:
        raise RecordFormatError(f"embedding is not valid base64: {error}") from error
    if len(raw) % 4:
        raise RecordFormatError("embedding byte length is not a multiple of 4 (float32)")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)


def field_of(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``data[name]`` checked against ``kind``, or a RecordFormatError naming ``where.name``."""
    if name not in data:
        raise RecordFormatError(f"{where}: missing field {name!r}")
    value = data[name]
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
        expected = " or ".join(k.__name__ for k in _as_tuple(kind))
        raise RecordFormatError(f"{where}.{name}: expected {expected}, got {type(value).__name__}")
    return value


def strings_of(data: dict[str, Any], name: str, where: str, *, required: bool = True) -> list[str]:
    """``data[name]`` as a list of text (ids, candidates); anything else is refused, not coerced."""
    values: object = field_of(data, name, list, where) if required else data.get(name, [])
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise RecordFormatError(f"{where}.{name}: expected a list of text")
    return values


def objects_of(data: dict[str, Any], name: str, where: str) -> list[dict[str, Any]]:
    """``data[name]`` as a list of JSON objects (a persona attribute's history)."""
    values: list[Any] = field_of(data, name, list, where)
    if not all(isinstance(v, dict) for v in values):
        raise RecordFormatError(f"{where}.{name}: expected a list of objects")
    return values


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
