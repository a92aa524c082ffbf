"""Ranking examples as arrays: every text embedded once, persona facts padded per row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.ranking_task import GOLD, RankingExample

Array = npt.NDArray[np.float32]
EmbedFn = Callable[[list[str]], Array]


@dataclass(frozen=True)
class EncodedExamples:
    """context (N, D); candidates (N, K, D); persona (N, P, D); persona_mask (N, P);
    labels (N,) index of the candidate the signal is about; signs (N,) +1 for "this one"
    and -1 for "not this one" (thumbs down); weights (N,) per-example loss weights."""

    context: Array
    candidates: Array
    persona: Array
    persona_mask: Array
    labels: npt.NDArray[np.int64]
    signs: Array
    weights: Array

    def __len__(self) -> int:
        return int(self.context.shape[0])

    def subset(self, rows: npt.NDArray[np.int64] | Sequence[int]) -> EncodedExamples:
        index = np.asarray(rows, dtype=np.int64)
        return EncodedExamples(
            self.context[index],
            self.candidates[index],
            self.persona[index],
            self.persona_mask[index],
            self.labels[index],
            self.signs[index],
            self.weights[index],
        )


def embed_unique(texts: Sequence[str], embed: EmbedFn) -> dict[str, Array]:
    """Embed each distinct text once."""
    unique = sorted(set(texts))
    vectors = embed(unique) if unique else np.zeros((0, 0), np.float32)
    return {text: vectors[i] for i, text in enumerate(unique)}


def encode(
    examples: Sequence[RankingExample],
    embed: EmbedFn,
    *,
    dimension: int,
    table: dict[str, Array] | None = None,
) -> EncodedExamples:
    """Encode ranking examples (gold at index 0, sign +1, weight 1)."""
    if table is None:
        table = embed_unique(_texts(examples), embed)
    count = len(examples)
    k = max((len(e.candidates) for e in examples), default=1)
    p = max((len(e.persona) for e in examples), default=1) or 1
    context = np.zeros((count, dimension), np.float32)
    candidates = np.zeros((count, k, dimension), np.float32)
    persona = np.zeros((count, p, dimension), np.float32)
    mask = np.zeros((count, p), np.float32)
    for row, example in enumerate(examples):
        context[row] = table[example.context]
        candidates[row, : len(example.candidates)] = [table[c] for c in example.candidates]
        for slot, fact in enumerate(example.persona):
            persona[row, slot] = table[fact]
            mask[row, slot] = 1.0
    return EncodedExamples(
        context,
        candidates,
        persona,
        mask,
        np.full(count, GOLD, np.int64),
        np.ones(count, np.float32),
        np.ones(count, np.float32),
    )


def _texts(examples: Sequence[RankingExample]) -> list[str]:
    texts: list[str] = []
    for example in examples:
        texts.append(example.context)
        texts.extend(example.candidates)
        texts.extend(example.persona)
    return texts
