"""Ranking metrics over score matrices whose column 0 is the gold candidate."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.ranking_task import GOLD


def gold_ranks(scores: npt.NDArray[np.floating]) -> npt.NDArray[np.int64]:
    """1-based rank of the gold candidate per row; ties count against it (pessimistic)."""
    scores = np.asarray(scores, dtype=np.float64)
    gold = scores[:, GOLD : GOLD + 1]
    others = np.delete(scores, GOLD, axis=1)
    ranks: npt.NDArray[np.int64] = (1 + (others >= gold).sum(axis=1)).astype(np.int64)
    return ranks


def hits_at_1(scores: npt.NDArray[np.floating]) -> float:
    return float((gold_ranks(scores) == 1).mean()) if len(scores) else float("nan")


def mean_reciprocal_rank(scores: npt.NDArray[np.floating]) -> float:
    return float((1.0 / gold_ranks(scores)).mean()) if len(scores) else float("nan")
