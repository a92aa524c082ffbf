"""Ranking metrics over candidate scores: hits@1 and mean reciprocal rank.

Ties are resolved by expectation over a random tie-break: a gold candidate tied with t
others at the top counts 1/(t+1) of a hit, and its reciprocal rank is the mean of 1/r
over the ranks it could take. A bag-of-words scorer ties often (many candidates share no
word with the context), and neither the optimistic nor the pessimistic convention would
report what a random tie-break actually scores. (``models/metrics.py`` counts ties
against the gold; the two agree whenever there are no ties.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class RankMetrics:
    examples: int
    hits_at_1: float
    mrr: float

    def as_json(self) -> dict[str, float | int]:
        return {"examples": self.examples, "hits@1": self.hits_at_1, "mrr": self.mrr}


def expected_hits_and_reciprocal_ranks(
    scores: npt.NDArray[np.floating], gold: npt.NDArray[np.integer]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per example: the expected hit@1 and reciprocal rank of the gold candidate.

    ``scores`` has shape (n_examples, n_candidates), higher is better; ``gold`` (n_examples,)
    holds the gold candidate's column.
    """
    scores = np.asarray(scores, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.int64)
    if scores.ndim != 2 or gold.shape != (scores.shape[0],):
        raise ValueError(f"scores must be (n, k) and gold (n,), got {scores.shape}, {gold.shape}")
    gold_scores = scores[np.arange(len(gold)), gold][:, None]
    higher = (scores > gold_scores).sum(axis=1)
    tied = (scores == gold_scores).sum(axis=1) - 1
    hits = (higher == 0) / (tied + 1)
    # harmonic[m] = sum_{r=1..m} 1/r, so the mean of 1/r over ranks higher+1..higher+tied+1
    # is (harmonic[higher + tied + 1] - harmonic[higher]) / (tied + 1).
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, scores.shape[1] + 1))])
    reciprocal = (harmonic[higher + tied + 1] - harmonic[higher]) / (tied + 1)
    return hits.astype(np.float64), reciprocal


def rank_metrics(scores: npt.NDArray[np.floating], gold: npt.NDArray[np.integer]) -> RankMetrics:
    """hits@1 and MRR over all examples (NaN for none)."""
    if len(gold) == 0:
        return RankMetrics(examples=0, hits_at_1=float("nan"), mrr=float("nan"))
    hits, reciprocal = expected_hits_and_reciprocal_ranks(scores, gold)
    return RankMetrics(
        examples=len(gold), hits_at_1=float(hits.mean()), mrr=float(reciprocal.mean())
    )
