"""The rerank stage: a small linear head over retrieval features, trainable on device.

A sibling of ``models.reranking_head`` (same family: frozen MiniLM vectors in, a score
per candidate out, higher is better), but over the engine's own features (the search
score, dense cosine, BM25, the fused score, context, speaker, link, persona), so it needs
no torch on the retrieval path and scores 100 candidates in microseconds. Its
parameters are one weight vector: trainable from usage signals (a memory the user
confirmed or that the reply used is a positive, the others negatives) with a pairwise
logistic loss (RankNet, Burges et al. 2005), and federatable like the head (an update
is a difference of two vectors, clipped and noised by the same code).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from client.memory_engine.retrieval import FEATURES, Candidate

Weights = npt.NDArray[np.float64]
# A second ordering after the feature head (the person's trained head in chat): the
# message, its query vector and the reranked candidates in, the same candidates in a new
# order out.
CandidateOrder = Callable[[str, npt.NDArray[np.float32], list[Candidate]], list[Candidate]]
# Before any training the head keeps the retrieval order (a safe prior for a new user
# with no signals yet); training learns corrections from the other features.
PRIOR = {"retrieval": 1.0}


@dataclass
class FeatureHead:
    weights: Weights

    @classmethod
    def prior(cls) -> FeatureHead:
        return cls(np.array([PRIOR.get(name, 0.0) for name in FEATURES], dtype=np.float64))

    def uses(self, feature: str) -> bool:
        """Whether the feature has a non-zero weight (callers may skip computing it)."""
        return bool(self.weights[FEATURES.index(feature)] != 0.0)

    def rerank(
        self, candidates: Sequence[Candidate], *, depth: int | None = None
    ) -> list[Candidate]:
        """Candidates (in search order) rescored by the head; the first ``depth`` (all when
        None) reordered by it, the rest kept below them in search order (the retrieval score
        stays in ``features``).

        Why a window: the head learns from what reached the prompt (the first candidates,
        bench.locomo_retrieval.usage_signals), so it never compared items of the tail.
        Reordering the whole list moved LoCoMo evidence out of the top 25 (recall@25 90.0
        -> 89.4, most of it multi-hop questions, whose evidence lies in several sessions);
        reordering the first 30 keeps it (docs/benchmarks.md).
        """
        if not candidates:
            return []
        for candidate in candidates:
            candidate.features["retrieval"] = candidate.score
        scores = features_of(candidates) @ self.weights
        for candidate, score in zip(candidates, scores, strict=True):
            candidate.score = float(score)
        cut = len(candidates) if depth is None else depth
        window = sorted(candidates[:cut], key=lambda c: -c.score)
        tail = list(candidates[cut:])
        # Below the window, in search order: no score above the one before it, so that a
        # later sort by score (the validator's floor reads them) keeps the order.
        ceiling = min((c.score for c in window), default=float("inf"))
        for candidate in tail:
            ceiling = min(ceiling, candidate.score)
            candidate.score = ceiling
        return window + tail

    def train(
        self,
        lists: Sequence[tuple[Sequence[Candidate], set[str]]],
        *,
        epochs: int = 20,
        learning_rate: float = 0.05,
    ) -> float:
        """Pairwise logistic SGD on (candidates, positive ids) lists; returns the last mean loss."""
        loss = 0.0
        for _ in range(epochs):
            losses = [self._step(c, p, learning_rate) for c, p in lists if p]
            loss = float(np.mean(losses)) if losses else 0.0
        return loss

    def _step(self, candidates: Sequence[Candidate], positives: set[str], rate: float) -> float:
        x = features_of(candidates)
        good = np.array([c.id in positives for c in candidates])
        if good.all() or not good.any():
            return 0.0
        # Every positive against every negative: d = x_pos - x_neg, loss = log(1 + e^{-w.d}).
        diffs = (x[good][:, None, :] - x[~good][None, :, :]).reshape(-1, x.shape[1])
        margins = diffs @ self.weights
        probability = 1.0 / (1.0 + np.exp(np.clip(margins, -30, 30)))
        self.weights += rate * (probability[:, None] * diffs).mean(axis=0)
        return float(np.logaddexp(0.0, -margins).mean())


def features_of(candidates: Sequence[Candidate]) -> npt.NDArray[np.float64]:
    """(len(candidates), len(FEATURES)) in the order of :data:`FEATURES`."""
    return np.array(
        [[c.features.get(name, _default(c, name)) for name in FEATURES] for c in candidates],
        dtype=np.float64,
    )


def _default(candidate: Candidate, name: str) -> float:
    # Before a rerank, the search score is the candidate's own score.
    return candidate.score if name == "retrieval" else 0.0
