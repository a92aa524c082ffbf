"""A low-rank question-to-memory adapter on frozen sentence embeddings, and its training.

Dense retrieval scores a memory m for a question q by cos(q, m). A question and the turn
that answers it often share little of either words or meaning ("What books has John
read?" -> "I just finished this amazing fantasy series"), and the encoder is frozen on
the device. The adapter adds a learned, asymmetric low-rank term:

    s(q, m) = q . m + (U q) . (V m) = (q + V^T U q) . m,   U, V: D -> R (rank R),

the "dual encoder" bilinear form of Lowe et al. 2015 (The Ubuntu Dialogue Corpus, s. 5.1)
with a low-rank matrix, as ``models.reply_match`` uses it for replies. V starts at zero,
so an untrained adapter ranks exactly as the cosine; U is random so V gets a gradient at
once. Applied on the device it is one matrix-vector product on the query,
``adapted_query`` (no torch): the memories' vectors are unchanged, so nothing stored
needs re-embedding.

Training (``train_adapter``) is InfoNCE (van den Oord et al. 2018) over groups (one
dialogue each): every query's positives are its own memories, its negatives the other
memories of its dialogue (hard: same people, same topics) and of the other dialogues in
the batch. Only U and V learn; the cosine term is fixed, so the adapter learns what the
cosine misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor, nn

from models.adamw import AdamW, AdamWSettings

Array = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PairGroup:
    """One dialogue's training pairs: ``positive[i, j]`` when memory j answers query i."""

    queries: Array  # (Q, D) unit vectors
    memories: Array  # (M, D) unit vectors
    positive: npt.NDArray[np.bool_]  # (Q, M), at least one True per row

    def __post_init__(self) -> None:
        if self.positive.shape != (self.queries.shape[0], self.memories.shape[0]):
            raise ValueError(
                f"positive has shape {self.positive.shape}, expected "
                f"{(self.queries.shape[0], self.memories.shape[0])}"
            )
        if self.queries.shape[0] and not self.positive.any(axis=1).all():
            raise ValueError("every query needs at least one positive memory")


@dataclass(frozen=True, kw_only=True)
class AdapterSettings:
    rank: int = 32
    epochs: int = 5
    groups_per_batch: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 1e-2
    temperature: float = 0.05  # InfoNCE's; cosines of MiniLM lie in a narrow band
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rank", "epochs", "groups_per_batch"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")


class MemoryAdapter(nn.Module):
    """``score(queries (Q, D), memories (M, D)) -> (Q, M)``: cosine plus the low-rank term."""

    def __init__(self, dimension: int, rank: int, generator: torch.Generator) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"rank must be positive, got {rank}")
        self.query_side = nn.Parameter(torch.randn(rank, dimension, generator=generator))
        self.query_side.data /= dimension**0.5
        self.memory_side = nn.Parameter(torch.zeros(rank, dimension))  # neutral start

    def score(self, queries: Tensor, memories: Tensor) -> Tensor:
        return queries @ memories.T + self.term(queries, memories)

    def term(self, queries: Tensor, memories: Tensor) -> Tensor:
        """(U q) . (V m) for every pair, (Q, M)."""
        return (queries @ self.query_side.T) @ (memories @ self.memory_side.T).T

    def arrays(self) -> tuple[Array, Array]:
        """(U, V), each (R, D), as numpy."""
        return (
            self.query_side.detach().numpy().astype(np.float32),
            self.memory_side.detach().numpy().astype(np.float32),
        )


def train_adapter(groups: Sequence[PairGroup], settings: AdapterSettings) -> tuple[Array, Array]:
    """U and V (each (rank, D)) trained on ``groups``; see the module docstring."""
    if not groups:
        raise ValueError("no training groups")
    generator = torch.Generator().manual_seed(settings.seed)
    adapter = MemoryAdapter(groups[0].queries.shape[1], settings.rank, generator)
    optimiser = AdamW(
        adapter.parameters(),
        AdamWSettings(learning_rate=settings.learning_rate, weight_decay=settings.weight_decay),
    )
    order = np.random.default_rng(settings.seed)
    usable = [g for g in groups if g.queries.shape[0]]
    last: tuple[tuple[int, ...], _Batch] | None = None
    for _ in range(settings.epochs):
        shuffled = order.permutation(len(usable))
        for start in range(0, len(usable), settings.groups_per_batch):
            chosen = tuple(
                sorted(int(i) for i in shuffled[start : start + settings.groups_per_batch])
            )
            if last is None or last[0] != chosen:  # one batch of all groups: built once
                last = chosen, _Batch.of([usable[i] for i in chosen])
            optimiser.zero_grad()
            _batch_loss(adapter, last[1], settings.temperature).backward()  # type: ignore[no-untyped-call]
            optimiser.step()
    return adapter.arrays()


@dataclass(frozen=True)
class _Batch:
    """Groups stacked: their queries, memories, the positives (block-diagonal) and the
    cosines, which do not learn and so are computed once per batch."""

    queries: Tensor
    memories: Tensor
    positive: Tensor
    cosine: Tensor

    @staticmethod
    def of(groups: list[PairGroup]) -> _Batch:
        queries = torch.from_numpy(np.concatenate([g.queries for g in groups]))
        memories = torch.from_numpy(np.concatenate([g.memories for g in groups]))
        positive = torch.zeros(queries.shape[0], memories.shape[0], dtype=torch.bool)
        row = column = 0
        for group in groups:
            q, m = group.positive.shape
            positive[row : row + q, column : column + m] = torch.from_numpy(group.positive)
            row, column = row + q, column + m
        return _Batch(queries, memories, positive, queries @ memories.T)


def _batch_loss(adapter: MemoryAdapter, batch: _Batch, temperature: float) -> Tensor:
    """Mean over queries of -log(sum of softmax mass on the query's positives)."""
    positive = batch.positive
    logits = (batch.cosine + adapter.term(batch.queries, batch.memories)) / temperature
    on_positives = torch.logsumexp(logits.masked_fill(~positive, float("-inf")), dim=1)
    loss: Tensor = (torch.logsumexp(logits, dim=1) - on_positives).mean()
    return loss


def adapted_queries(queries: Array, query_side: Array, memory_side: Array, weight: float) -> Array:
    """``q + weight V^T U q`` per row of ``queries`` (N, D): scoring memories with it gives
    cos(q, m) + weight (U q) . (V m). Pure numpy, so the device applies it without torch."""
    return np.asarray(queries + weight * ((queries @ query_side.T) @ memory_side), dtype=np.float32)
