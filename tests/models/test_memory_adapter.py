"""The question-to-memory adapter: neutral before training, and it learns a relation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.memory_adapter import (
    AdapterSettings,
    MemoryAdapter,
    PairGroup,
    adapted_queries,
    train_adapter,
)

DIMENSION = 16


def unit_rows(rng: np.random.Generator, count: int) -> np.ndarray:
    rows = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def hidden_relation_groups(seed: int, groups: int, size: int = 8) -> list[PairGroup]:
    """Query i is memory i turned by a fixed orthogonal matrix: unrelated under cosine."""
    turn, _ = np.linalg.qr(np.random.default_rng(99).standard_normal((DIMENSION, DIMENSION)))
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(groups):
        memories = unit_rows(rng, size)
        queries = (memories @ turn.T).astype(np.float32)
        made.append(PairGroup(queries, memories, np.eye(size, dtype=np.bool_)))
    return made


def top1(groups: list[PairGroup], adapter: tuple[np.ndarray, np.ndarray] | None) -> float:
    hits = []
    for group in groups:
        queries = (
            group.queries if adapter is None else adapted_queries(group.queries, *adapter, 1.0)
        )
        hits.extend((queries @ group.memories.T).argmax(axis=1) == np.arange(len(queries)))
    return float(np.mean(hits))


def test_an_untrained_adapter_scores_exactly_the_cosine() -> None:
    rng = np.random.default_rng(0)
    queries, memories = unit_rows(rng, 5), unit_rows(rng, 7)
    adapter = MemoryAdapter(DIMENSION, rank=4, generator=torch.Generator().manual_seed(0))
    q, m = torch.from_numpy(queries), torch.from_numpy(memories)
    torch.testing.assert_close(adapter.score(q, m), q @ m.T, rtol=0, atol=0)
    u, v = adapter.arrays()
    np.testing.assert_array_equal(adapted_queries(queries, u, v, weight=3.0), queries)


def test_it_learns_a_relation_the_cosine_misses() -> None:
    train, held_out = hidden_relation_groups(1, groups=64), hidden_relation_groups(2, groups=16)
    settings = AdapterSettings(rank=DIMENSION, epochs=60, groups_per_batch=8, learning_rate=0.02)
    adapter = train_adapter(train, settings)
    assert top1(held_out, None) < 0.4  # the cosine is near chance (1 in 8)
    assert top1(held_out, adapter) > 0.9


def test_a_query_without_a_positive_is_refused() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="positive"):
        PairGroup(unit_rows(rng, 2), unit_rows(rng, 3), np.zeros((2, 3), dtype=np.bool_))
