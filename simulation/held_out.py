"""The held-out users of a simulation as the server's measure of the global head.

They are the population's users who never take part (``unseen_users.json`` in the run
folder), with the run's shared embeddings: scoring a head on them needs no device.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from models.encoded import EmbedFn, EncodedExamples, encode
from models.ranking_metrics import expected_hits_and_reciprocal_ranks
from models.ranking_task import RankingExample
from models.reranking_head import RerankingHead
from models.training import score
from server.held_out import HeldOutScore, score_of


def load_examples(path: Path) -> list[RankingExample]:
    return [
        RankingExample(
            **{**e, "persona": tuple(e["persona"]), "candidates": tuple(e["candidates"])}
        )
        for e in json.loads(path.read_text())
    ]


@dataclass(frozen=True)
class HeldOutUsers:
    """Scores a head on the held-out users' examples (encoded once)."""

    data: EncodedExamples

    @classmethod
    def of(cls, examples: list[RankingExample], embed: EmbedFn, *, dimension: int) -> HeldOutUsers:
        return cls(encode(examples, embed, dimension=dimension))

    def __call__(self, model: RerankingHead) -> HeldOutScore:
        hits, _ = expected_hits_and_reciprocal_ranks(score(model, self.data), self.data.labels)
        return score_of(hits)
