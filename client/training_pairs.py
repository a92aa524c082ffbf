"""Training examples for the on-device reranking head, sealed like everything else.

One example is a context, the candidates that were shown (replies or memories) and which
of them the user's signal favoured. Signals: a reply picked or rated, a memory the answer
used that the user did not correct, a thumbs up or down, or a data set (in simulation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from client.records import (
    RecordFormatError,
    field_of,
    from_payload,
    new_record_id,
    now,
    strings_of,
    to_payload,
)
from client.store import EncryptedStore

TABLE = "training_pairs"


class Signal(StrEnum):
    PICKED = "picked"
    RATED = "rated"
    MEMORY_USED = "memory_used"
    THUMBS_UP = "thumbs_up"
    THUMBS_DOWN = "thumbs_down"
    DATASET = "dataset"


@dataclass(frozen=True, kw_only=True)
class TrainingPair:
    context: str
    candidates: tuple[str, ...]
    chosen: int
    signal: Signal
    weight: float = 1.0
    session_id: str | None = None
    created_at: float = field(default_factory=now)
    id: str = field(default_factory=new_record_id)

    def __post_init__(self) -> None:
        if not 0 <= self.chosen < len(self.candidates):
            raise RecordFormatError(
                f"chosen index {self.chosen} is outside the {len(self.candidates)} candidates"
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "context": self.context,
            "candidates": list(self.candidates),
            "chosen": self.chosen,
            "signal": self.signal.value,
            "weight": self.weight,
            "session_id": self.session_id,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "training_pair") -> TrainingPair:
        try:
            signal = Signal(field_of(data, "signal", str, where))
        except ValueError as error:
            raise RecordFormatError(
                f"{where}.signal: expected one of {[s.value for s in Signal]}"
            ) from error
        return cls(
            id=field_of(data, "id", str, where),
            context=field_of(data, "context", str, where),
            candidates=tuple(strings_of(data, "candidates", where)),
            chosen=int(field_of(data, "chosen", int, where)),
            signal=signal,
            weight=float(field_of(data, "weight", (int, float), where)),
            session_id=_optional_text(data, "session_id", where),
            created_at=float(field_of(data, "created_at", (int, float), where)),
        )


def _optional_text(data: dict[str, Any], name: str, where: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise RecordFormatError(f"{where}.{name}: expected text or null")
    return value


class TrainingPairs:
    def __init__(self, store: EncryptedStore) -> None:
        self._table = store.tables[TABLE]

    def add(self, pair: TrainingPair) -> TrainingPair:
        self._table.put(pair.id, to_payload(pair.to_json()))
        return pair

    def all(self) -> list[TrainingPair]:
        return [TrainingPair.from_json(from_payload(p)) for _, p in self._table.scan().records]

    def count(self) -> int:
        return self._table.count()
