"""A federated run's folder as the server sees it: settings, head, ledger, metrics store."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.metrics_store import FILE_NAME as METRICS_FILE


@dataclass(frozen=True)
class RunFolder:
    """Where a run keeps what the server writes; a restarted run continues from it."""

    root: Path

    @property
    def settings_path(self) -> Path:
        return self.root / "settings.json"

    @property
    def checkpoint_path(self) -> Path:
        return self.root / "head.npz"

    @property
    def ledger_path(self) -> Path:
        return self.root / "ledger.json"

    @property
    def participation_path(self) -> Path:
        return self.root / "participation.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS_FILE
