"""Which clients take part in a round, exactly as the privacy accounting assumes.

Poisson: every client joins independently with probability q (round sizes vary; the
accounting credits amplification by sampling under add/remove-one). Fixed-size: exactly
k clients drawn without replacement (accounted under replace-one). The generator must be
secret from clients in production (``random.SystemRandom``), seeded only in tests.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def poisson_sample(node_ids: Sequence[int], rate: float, rng: random.Random) -> list[int]:
    if not 0 < rate <= 1:
        raise ValueError(f"sampling rate must be in (0, 1], got {rate}")
    return [node for node in node_ids if rng.random() < rate]


def fixed_size_sample(node_ids: Sequence[int], size: int, rng: random.Random) -> list[int]:
    if not 0 < size <= len(node_ids):
        raise ValueError(f"sample size must be in [1, {len(node_ids)}], got {size}")
    return sorted(rng.sample(list(node_ids), size))
