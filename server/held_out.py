"""How good the global head is on users who never take part: the run's honest measure.

The server scores every round's head on a fixed set of held-out users. In a simulation they
are generated or held out of the population, so measuring them costs no one's privacy; a
deployment would use public data. A device's own later turns are also measured, but only
as a noised statistic (privacy.device_release), too noisy in small rounds to judge by.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.reranking_head import RerankingHead

Z_95 = 1.959963984540054  # the standard normal's 97.5% quantile


@dataclass(frozen=True)
class HeldOutScore:
    """hits@1 on the held-out examples and the half-width of its 95% confidence interval."""

    hits_at_1: float  # in [0, 1]
    ci95: float
    examples: int


def score_of(hits: npt.NDArray[np.float64]) -> HeldOutScore:
    """The mean of per-example hits (expected hits under ties, each in [0, 1]) with a normal
    95% interval, mean +- 1.96 s / sqrt(n) (s the sample standard deviation)."""
    n = int(hits.size)
    if n == 0:
        return HeldOutScore(math.nan, math.nan, 0)
    spread = float(np.std(hits, ddof=1)) if n > 1 else math.inf
    return HeldOutScore(float(np.mean(hits)), Z_95 * spread / math.sqrt(n), n)


Evaluate = Callable[[RerankingHead], HeldOutScore]
