"""The person's trained head orders the memories a turn retrieved, on onnxruntime.

The engine's feature head and search produce the candidates and their relevance scores;
this head then puts them in the order the person's own signals taught it (scoring the
message, each candidate memory, the persona facts and the words each memory shares with
the message, as ``models.reranking_head`` does). The scores the validator's relevance
floor reads stay the search's, so a trained head reorders what is relevant but cannot
make an irrelevant memory pass the floor.
"""

from __future__ import annotations

import numpy as np

from client.embedding.protocol import Vectors
from client.memory_engine import MemoryEngine
from client.memory_engine.retrieval import Candidate
from client.persona import persona_fact
from client.personal_head import PersonalHead
from models.lexical_overlap import shared_word_counts
from models.onnx_scorer import OnnxHeadScorer
from models.stance_persona import signed_persona


class HeadOrder:
    """A ``CandidateOrder`` for :class:`~client.memory_engine.MemoryEngine`: the head's order."""

    def __init__(self, head: PersonalHead, engine: MemoryEngine) -> None:
        self.head = head
        self._engine = engine
        self._scorer = OnnxHeadScorer(head.onnx)  # from memory: the head has no plaintext file

    def __call__(
        self, message: str, query: Vectors, candidates: list[Candidate]
    ) -> list[Candidate]:
        if len(candidates) < 2:
            return candidates
        index = self._engine.index
        memories = np.stack([index.vector(c.id) for c in candidates])
        persona, mask = self._persona(memories.shape[1])
        # Only a head exported with the input reads the counts (older stored heads do not).
        shared = (
            shared_word_counts(message, [c.text for c in candidates])[None]
            if self._scorer.reads_shared_words
            else None
        )
        scores = self._scorer.scores(
            query[None], memories[None], persona[None], mask[None], shared
        )[0]
        for candidate, value in zip(candidates, scores, strict=True):
            candidate.features["head"] = float(value)
        order = np.argsort(-scores, kind="stable")
        return [candidates[int(i)] for i in order]

    def _persona(self, dimension: int) -> tuple[Vectors, Vectors]:
        # The same fact texts the head was trained with (client.local_training).
        facts = [persona_fact(a) for a in self._engine.profile.persona.attributes()]
        if not facts:  # one masked-out fact: the head's persona terms are then zero
            return np.zeros((1, dimension), np.float32), np.zeros(1, np.float32)
        if self.head.config.get("stance_input", False):  # HeadConfig.stance_input
            vectors = signed_persona(facts, self._engine.embedder.embed)
        else:
            vectors = np.asarray(self._engine.embedder.embed(facts), np.float32)
        return vectors, np.ones(len(vectors), np.float32)
