"""Where a simulated device finds its store, its passphrase and its embeddings.

In a simulation many devices live on one machine, in one run folder (simulation.run_workspace
writes it). Device ``i`` opens ``clients/i.fpstore`` with a passphrase derived from the
run's secret, and looks embeddings up in the run's shared table instead of running the
encoder: the same vectors the ONNX encoder gives, computed once for all devices.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.embedding_cache import EmbeddingCache
from models.encoded import EmbedFn

WORKSPACE_FILE = "workspace.json"
# How `fedpersona simulate` tells the Flower apps where the run folder is (Flower's
# in-process simulation ignores the run config); `flwr run` uses the run config's `out`.
RUN_DIR_ENV = "FEDPERSONA_RUN_DIR"


@dataclass(frozen=True)
class SimulatedDevices:
    root: Path
    secret: str
    encoder: str

    @classmethod
    def load(cls, root: Path) -> SimulatedDevices:
        path = root / WORKSPACE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: the run folder was not set up")
        data = json.loads(path.read_text())
        return cls(root=root, secret=str(data["secret"]), encoder=str(data["encoder"]))

    def store_path(self, device: int) -> Path:
        return self.root / "clients" / f"{device:05d}.fpstore"

    def passphrase(self, device: int) -> str:
        return hmac.new(self.secret.encode(), str(device).encode(), hashlib.sha256).hexdigest()

    @property
    def embeddings_path(self) -> Path:
        return self.root / "embeddings.npz"

    def embed_function(self) -> EmbedFn:
        """Lookups in the run's embeddings; a text not embedded at set-up is an error."""

        def missing(texts: list[str]) -> np.ndarray:
            raise KeyError(f"{len(texts)} text(s) were not embedded when the run was set up")

        return EmbeddingCache(self.embeddings_path, self.encoder, missing)
