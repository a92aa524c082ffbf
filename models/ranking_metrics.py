"""Ranking metrics: hits@1 and mean reciprocal rank over candidate score matrices.

``scores`` is (n_examples, n_candidates), higher is better; ``gold`` names each row's
gold column (default: column 0, models.ranking_task.GOLD). Ties are resolved by
expectation over a random tie-break: a gold candidate tied with t others at the top
counts 1/(t+1) of a hit, and its reciprocal rank is the mean of 1/r over the ranks it
could take. Neither the optimistic nor the pessimistic convention reports what a random
tie-break scores, and bag-of-words scorers tie often; float scores from embeddings
almost never tie, so for them all three agree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from models.ranking_task import GOLD

FloatArray = npt.NDArray[np.float64]


def expected_hits_and_reciprocal_ranks(
    scores: npt.NDArray[np.floating], gold: npt.NDArray[np.integer] | None = None
) -> tuple[FloatArray, FloatArray]:
    """Per example: the expected hit@1 and the expected reciprocal rank of the gold."""
    scores = np.asarray(scores, dtype=np.float64)
    if gold is None:
        gold = np.full(scores.shape[0], GOLD, dtype=np.int64)
    gold = np.asarray(gold, dtype=np.int64)
    if scores.ndim != 2 or gold.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (n, k) and gold (n,), got {scores.shape}, {gold.shape}")
    gold_scores = scores[np.arange(len(gold)), gold][:, None]
    higher = (scores > gold_scores).sum(axis=1)
    tied = (scores == gold_scores).sum(axis=1) - 1
    hits: FloatArray = ((higher == 0) / (tied + 1)).astype(np.float64)
    # harmonic[m] = sum_{r=1..m} 1/r, so the mean of 1/r over ranks higher+1..higher+tied+1
    # is (harmonic[higher + tied + 1] - harmonic[higher]) / (tied + 1).
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, scores.shape[1] + 1))])
    reciprocal: FloatArray = (harmonic[higher + tied + 1] - harmonic[higher]) / (tied + 1)
    return hits, reciprocal


def hits_at_1(
    scores: npt.NDArray[np.floating], gold: npt.NDArray[np.integer] | None = None
) -> float:
    """Mean expected hit@1 (NaN for no examples)."""
    if len(scores) == 0:
        return float("nan")
    return float(expected_hits_and_reciprocal_ranks(scores, gold)[0].mean())


def mean_reciprocal_rank(
    scores: npt.NDArray[np.floating], gold: npt.NDArray[np.integer] | None = None
) -> float:
    """Mean expected reciprocal rank (NaN for no examples)."""
    if len(scores) == 0:
        return float("nan")
    return float(expected_hits_and_reciprocal_ranks(scores, gold)[1].mean())
