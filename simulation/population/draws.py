"""Cheap scalar random choices from an explicit numpy generator.

Generating 10,000 users takes millions of small choices (a template, a cue, a position);
one ``Generator.integers`` call per choice costs microseconds of overhead each, which alone
would blow the one-minute budget. ``Draws`` takes uniforms from the generator in blocks
and answers choices from them, so the stream stays a pure function of the generator's
seed while a choice costs a list index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")
_BLOCK = 512


class Draws:
    """Uniform draws in [0, 1) from ``rng``, served one at a time from a block."""

    def __init__(self, rng: np.random.Generator, *, block: int = _BLOCK) -> None:
        if block < 1:
            raise ValueError(f"block must be positive, got {block}")
        self.rng = rng
        self._block = block
        self._buffer: list[float] = []
        self._next = 0

    def uniform(self) -> float:
        if self._next >= len(self._buffer):
            self._buffer = self.rng.random(self._block).tolist()
            self._next = 0
        value = self._buffer[self._next]
        self._next += 1
        return value

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``, uniformly."""
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        # u * n can round up to n for u just below 1; clamp (hot path: no min() call).
        i = int(self.uniform() * n)
        return i if i < n else n - 1

    def between(self, low: int, high: int) -> int:
        """An integer in ``[low, high]`` (both ends included), uniformly."""
        return low + self.below(high - low + 1)

    def chance(self, p: float) -> bool:
        return self.uniform() < p

    def choice(self, items: Sequence[T]) -> T:
        n = len(items)
        if n == 0:
            raise ValueError("cannot choose from an empty sequence")
        i = int(self.uniform() * n)
        return items[i if i < n else n - 1]

    def shuffled(self, items: Sequence[T]) -> list[T]:
        """A uniformly random permutation (Fisher-Yates)."""
        result = list(items)
        uniform = self.uniform
        for i in range(len(result) - 1, 0, -1):
            j = int(uniform() * (i + 1))
            j = j if j <= i else i
            result[i], result[j] = result[j], result[i]
        return result

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        """``k`` distinct items (all of them if there are fewer), in random order."""
        return self.shuffled(items)[:k]
