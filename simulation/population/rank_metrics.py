"""hits@1 and MRR of a scorer on the generated ranking task, as one reportable record.

The arithmetic (including the expected tie-break) is ``models.ranking_metrics``'s, shared with
the reranking benchmark so synthetic and real results are measured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.ranking_metrics import expected_hits_and_reciprocal_ranks


@dataclass(frozen=True, slots=True)
class RankMetrics:
    examples: int
    hits_at_1: float
    mrr: float

    def as_json(self) -> dict[str, float | int]:
        return {"examples": self.examples, "hits@1": self.hits_at_1, "mrr": self.mrr}


def rank_metrics(scores: npt.NDArray[np.floating], gold: npt.NDArray[np.integer]) -> RankMetrics:
    """hits@1 and MRR over all examples (NaN for none)."""
    if len(gold) == 0:
        return RankMetrics(examples=0, hits_at_1=float("nan"), mrr=float("nan"))
    hits, reciprocal = expected_hits_and_reciprocal_ranks(scores, gold)
    return RankMetrics(
        examples=len(gold), hits_at_1=float(hits.mean()), mrr=float(reciprocal.mean())
    )
