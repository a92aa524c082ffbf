"""The person's own reranking head, trained in chat, kept sealed in the store.

One record in the store's ``heads`` table holds the head as ONNX bytes (what onnxruntime
scores with, loaded from memory, never from a file), its weights (so a check or a later
step can compare them) and how many training signals it was trained on. Like every
record it is sealed with its own data key, so it is unreadable without the passphrase and
forgetting it destroys that key. It is derived from the training signals, which the
export carries; the head itself is not exported (it can be retrained from them).
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from client.records import RecordFormatError, field_of, from_payload, now, to_payload
from client.store import EncryptedStore

TABLE = "heads"
RECORD_ID = "reranker"


@dataclass(frozen=True, kw_only=True)
class PersonalHead:
    """A trained head: ``onnx`` for scoring, ``weights`` in the module's state order."""

    onnx: bytes
    weights: list[npt.NDArray[np.float32]]
    config: dict[str, Any]
    signals: int  # training signals in the store when it was trained
    trained_at: float

    def to_json(self) -> dict[str, Any]:
        buffer = io.BytesIO()
        np.savez(buffer, *self.weights)  # arrays only: loading never unpickles anything
        return {
            "onnx": base64.b64encode(self.onnx).decode("ascii"),
            "weights": base64.b64encode(buffer.getvalue()).decode("ascii"),
            "config": self.config,
            "signals": self.signals,
            "trained_at": self.trained_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "head") -> PersonalHead:
        try:
            onnx = base64.b64decode(field_of(data, "onnx", str, where), validate=True)
            packed = base64.b64decode(field_of(data, "weights", str, where), validate=True)
            with np.load(io.BytesIO(packed), allow_pickle=False) as arrays:
                weights = [arrays[f"arr_{i}"] for i in range(len(arrays.files))]
        except ValueError as error:
            raise RecordFormatError(f"{where}: unreadable head ({error})") from error
        return cls(
            onnx=onnx,
            weights=weights,
            config=dict(field_of(data, "config", dict, where)),
            signals=int(field_of(data, "signals", int, where)),
            trained_at=float(field_of(data, "trained_at", (int, float), where)),
        )


def new_personal_head(
    onnx: bytes, weights: list[npt.NDArray[np.float32]], config: dict[str, Any], signals: int
) -> PersonalHead:
    return PersonalHead(
        onnx=onnx, weights=weights, config=config, signals=signals, trained_at=now()
    )


class PersonalHeads:
    """The sealed ``heads`` table of one store."""

    def __init__(self, store: EncryptedStore) -> None:
        # A read-only store made before this table existed has none: it holds no head.
        self._table = store.tables.get(TABLE)

    def load(self) -> PersonalHead | None:
        payload = self._table.get(RECORD_ID) if self._table is not None else None
        return PersonalHead.from_json(from_payload(payload)) if payload is not None else None

    def exists(self) -> bool:
        return self._table is not None and self._table.contains(RECORD_ID)

    def save(self, head: PersonalHead) -> None:
        if self._table is None:
            raise RecordFormatError("this store was opened read-only and has no heads table")
        self._table.put(RECORD_ID, to_payload(head.to_json()))
