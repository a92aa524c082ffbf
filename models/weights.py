"""Head weights <-> NumPy arrays (what federation sends) and self-describing checkpoints.

The array order is the module's ``state_dict`` order, fixed by the architecture, so a
list of arrays from one head loads into any head built from the same config. A
checkpoint is an ``.npz`` holding the arrays and the config as JSON: readable without
torch and without unpickling anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from models.reranking_head import HeadConfig, RerankingHead

Arrays = list[npt.NDArray[np.float32]]
CHECKPOINT_FORMAT = "fedpersona-head"
_META = "__meta__"
_STATE = "state:"  # a run's own arrays beside the head's (e.g. the server's momentum)


def get_weights(model: RerankingHead) -> Arrays:
    return [
        t.detach().cpu().numpy().astype(np.float32, copy=True) for t in model.state_dict().values()
    ]


def set_weights(model: RerankingHead, arrays: Sequence[npt.NDArray[Any]]) -> None:
    """Load ``arrays`` into ``model``; shapes and count must match exactly."""
    names = list(model.state_dict())
    if len(arrays) != len(names):
        raise ValueError(f"expected {len(names)} arrays, got {len(arrays)}")
    state = {}
    for name, array, current in zip(names, arrays, model.state_dict().values(), strict=True):
        if tuple(array.shape) != tuple(current.shape):
            raise ValueError(f"{name}: expected shape {tuple(current.shape)}, got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name}: contains NaN or infinity")
        state[name] = torch.from_numpy(np.asarray(array, dtype=np.float32).copy())
    model.load_state_dict(state)


def flatten(arrays: Sequence[npt.NDArray[Any]]) -> npt.NDArray[np.float64]:
    """All weights as one vector (float64, for clipping and noise arithmetic)."""
    return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])


def unflatten(vector: npt.NDArray[Any], like: Sequence[npt.NDArray[Any]]) -> Arrays:
    sizes = [a.size for a in like]
    if vector.size != sum(sizes):
        raise ValueError(f"vector has {vector.size} values; the model has {sum(sizes)}")
    parts = np.split(np.asarray(vector), np.cumsum(sizes)[:-1])
    return [p.reshape(a.shape).astype(np.float32) for p, a in zip(parts, like, strict=True)]


def save_checkpoint(
    path: Path,
    model: RerankingHead,
    *,
    extra: dict[str, Any] | None = None,
    state: dict[str, npt.NDArray[Any]] | None = None,
) -> None:
    """Write arrays + config (+ ``extra`` facts, e.g. training data and metrics, + ``state``
    arrays that must be restored with the head) atomically, in one file."""
    meta = {"format": CHECKPOINT_FORMAT, "config": model.config.to_json(), "extra": extra or {}}
    arrays: dict[str, Any] = {f"w{i:03d}": a for i, a in enumerate(get_weights(model))}
    arrays |= {f"{_STATE}{name}": array for name, array in (state or {}).items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    arrays[_META] = np.array(json.dumps(meta))
    np.savez(staging, **arrays)
    os.replace(staging, path)


@dataclass(frozen=True)
class Checkpoint:
    """What one checkpoint file holds: the head, its ``extra`` facts and ``state`` arrays."""

    model: RerankingHead
    extra: dict[str, Any]
    state: dict[str, npt.NDArray[Any]]


def read_checkpoint(path: Path) -> Checkpoint:
    """Everything in a checkpoint, from one read of the file."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            meta = json.loads(str(stored[_META]))
            names = sorted(n for n in stored.files if n != _META and not n.startswith(_STATE))
            arrays = [stored[name] for name in names]
            saved = (n for n in stored.files if n.startswith(_STATE))
            state = {name.removeprefix(_STATE): stored[name] for name in saved}
    except (OSError, KeyError, ValueError) as error:
        raise ValueError(f"{path} is not a readable head checkpoint: {error}") from error
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a head checkpoint (format {meta.get('format')!r})")
    model = RerankingHead(HeadConfig.from_json(meta["config"]))
    set_weights(model, arrays)
    return Checkpoint(model, dict(meta.get("extra", {})), state)


def load_checkpoint(path: Path) -> tuple[RerankingHead, dict[str, Any]]:
    """The head a checkpoint describes, with its weights, and the checkpoint's ``extra``."""
    checkpoint = read_checkpoint(path)
    return checkpoint.model, checkpoint.extra
