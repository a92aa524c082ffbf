"""Which devices may still take part in a run capped at k rounds per device, and the
run's token that devices count their rounds against.

Under unamplified accounting the run's epsilon rests on each device joining at most k
rounds. The server never samples a device past k (this count, by node id, saved in the run
folder so a restarted server keeps it); the device keeps its own count too
(client.participation), since node ids change when a device reconnects. A device is
counted when it is sampled, before anything is sent: a sampled device that drops out stays
counted, which can only over-count.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Participation:
    """Rounds each node has been sampled for in this run, and the run's token."""

    path: Path
    token: str
    counts: dict[int, int] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path) -> Participation:
        """The saved record, or a new one with a fresh random token (saved at once)."""
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            counts = {int(node): int(n) for node, n in data["counts"].items()}
            return cls(path, str(data["run_token"]), counts)
        record = cls(path, secrets.token_hex(16))
        record.save()
        return record

    def eligible(self, nodes: Sequence[int], cap: int | None) -> list[int]:
        """The nodes that may still be sampled (all of them without a cap)."""
        if cap is None:
            return list(nodes)
        return [node for node in nodes if self.counts.get(node, 0) < cap]

    def record(self, nodes: Sequence[int]) -> None:
        """Count one round for each of ``nodes`` and save, before they are asked."""
        for node in nodes:
            self.counts[node] = self.counts.get(node, 0) + 1
        self.save()

    def save(self) -> None:
        data = {"run_token": self.token, "counts": {str(k): v for k, v in self.counts.items()}}
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        with temporary.open("w", encoding="utf-8") as stream:
            json.dump(data, stream, sort_keys=True)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.path)
