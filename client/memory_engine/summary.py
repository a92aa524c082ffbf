"""Session summaries within a token budget.

The offline summariser is extractive: it keeps the user's sentences closest to the
session's centroid (what the session was mostly about), in the order they were said,
until the budget is spent. An LLM-backed summariser implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from client.embedding.protocol import Embedder
from client.memory_engine.disclosure import split_sentences
from client.memory_engine.tokens import TokenCounter


class Summariser(Protocol):
    """``summarise(lines, budget)``: a summary of ``lines`` costing at most ``budget`` tokens."""

    def summarise(self, lines: Sequence[str], budget: int) -> str: ...


class ExtractiveSummariser:
    """Centroid-ranked sentences, kept in spoken order, within the budget."""

    def __init__(self, embedder: Embedder, counter: TokenCounter) -> None:
        self._embedder = embedder
        self._counter = counter

    def summarise(self, lines: Sequence[str], budget: int) -> str:
        sentences = [s for line in lines for s in split_sentences(line)]
        if not sentences or budget <= 0:
            return ""
        vectors = self._embedder.embed(sentences)
        centroid = vectors.mean(axis=0)
        # Central sentences first; the length bonus is small and favours content over "ok".
        lengths = np.array([min(len(s.split()), 20) / 20 for s in sentences], dtype=np.float32)
        order = np.argsort(-(vectors @ centroid + 0.1 * lengths), kind="stable")
        chosen: list[int] = []
        used = 0
        for index in order:
            cost = self._counter.count(sentences[index]) + 1  # +1: the joining space
            if used + cost <= budget:
                chosen.append(int(index))
                used += cost
        return " ".join(sentences[i] for i in sorted(chosen))
