"""Candidate generation: dense and lexical search fused, then speaker, links and recency.

Stages, each switchable so the benchmark can measure what each adds:
1. dense cosine over the decrypted index and BM25 over the same items, each proposing
   its top ``candidates``;
2. reciprocal rank fusion of the two rankings (Cormack et al., SIGIR 2009:
   ``sum 1 / (rrf_k + rank)``), which needs no calibration between cosine and BM25;
3. a bonus for items said by someone the message names (a question about Caroline is
   about what Caroline said), and for recent items;
4. link expansion: the items linked to the best candidates join with a share of their
   parent's score, so a fact found by its words brings the facts written beside it.
Scores point up: higher means more relevant.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from client.embedding.protocol import Vectors
from client.memory_engine.config import EngineConfig
from client.memory_engine.index import MemoryIndex, Scores, tokenize, top_positions

FEATURES = ("dense", "lexical", "fused", "speaker", "linked", "recency", "persona")
LINK_PARENTS = 10  # how many of the best candidates lend their links


@dataclass(frozen=True, kw_only=True)
class Stages:
    """Which stages run (the benchmark's rows switch them; the engine runs all)."""

    dense: bool = True
    lexical: bool = True
    context: bool = True  # speaker and recency bonuses
    links: bool = True


ALL_STAGES = Stages()


@dataclass(kw_only=True)
class Candidate:
    id: str
    text: str
    score: float
    features: dict[str, float] = field(default_factory=dict)
    via: str = "search"  # "search" or "link:<parent id>"


def search(
    index: MemoryIndex,
    message: str,
    query: Vectors,
    config: EngineConfig,
    stages: Stages | None = None,
    persona: Vectors | None = None,
) -> list[Candidate]:
    """Candidates for ``message`` (unit vector ``query``), best first."""
    stages = stages or ALL_STAGES
    if len(index) == 0:
        return []
    dense = index.dense_scores(query) if stages.dense else np.zeros(len(index), np.float32)
    lexical = index.lexical_scores(message) if stages.lexical else np.zeros(len(index), np.float32)
    fused = _rrf(dense, lexical, config, stages)
    named = _named_speakers(index, message) if stages.context else set()
    recency = _recency(index) if stages.context and config.recency_weight > 0 else None
    top_lexical = float(lexical.max()) if lexical.size else 0.0
    candidates: dict[str, Candidate] = {}
    for position, score in fused.items():
        entry = index.at(position)
        features = {
            "dense": float(dense[position]),
            "lexical": float(lexical[position]) / top_lexical if top_lexical > 0 else 0.0,
            "fused": score,
            "speaker": 1.0 if entry.speaker.lower() in named else 0.0,
            "linked": 0.0,
            "recency": float(recency[position]) if recency is not None else 0.0,
        }
        total = score * (1.0 + config.speaker_weight * features["speaker"])
        total += config.recency_weight * features["recency"] * score
        candidates[entry.id] = Candidate(
            id=entry.id, text=entry.text, score=total, features=features
        )
    if stages.links and config.link_weight > 0:
        _expand_links(index, candidates, config, dense, lexical, top_lexical)
    ranked = sorted(candidates.values(), key=lambda c: -c.score)
    _add_persona_feature(index, ranked, persona)
    return ranked


def _rrf(dense: Scores, lexical: Scores, config: EngineConfig, stages: Stages) -> dict[int, float]:
    """Position -> fused score over the union of both top lists (scaled so the best is ~1)."""
    fused: dict[int, float] = {}
    rankings = []
    if stages.dense:
        rankings.append(top_positions(dense, config.candidates))
    if stages.lexical:
        rankings.append([p for p in top_positions(lexical, config.candidates) if lexical[p] > 0])
    for ranking in rankings:
        for rank, position in enumerate(ranking):
            fused[position] = fused.get(position, 0.0) + 1.0 / (config.rrf_k + rank + 1)
    scale = (config.rrf_k + 1) / len(rankings) if rankings else 1.0
    return {position: value * scale for position, value in fused.items()}


def _named_speakers(index: MemoryIndex, message: str) -> set[str]:
    words = set(tokenize(message))
    return {e.speaker.lower() for e in index.entries() if e.speaker and e.speaker.lower() in words}


def _recency(index: MemoryIndex) -> Scores:
    """1.0 for the newest item, falling linearly to 0 for the oldest (by time said)."""
    times = np.array([e.at for e in index.entries()], dtype=np.float64)
    ranks = np.argsort(np.argsort(times, kind="stable"), kind="stable")
    return (ranks / max(len(times) - 1, 1)).astype(np.float32)


def _expand_links(
    index: MemoryIndex,
    candidates: dict[str, Candidate],
    config: EngineConfig,
    dense: Scores,
    lexical: Scores,
    top_lexical: float,
) -> None:
    parents = sorted(candidates.values(), key=lambda c: -c.score)[:LINK_PARENTS]
    for parent in parents:
        for linked_id in index.entry(parent.id).links:
            if linked_id not in index:
                continue
            inherited = config.link_weight * parent.score
            existing = candidates.get(linked_id)
            if existing is not None:
                existing.features["linked"] = 1.0
                existing.score = max(existing.score, inherited)
                continue
            position = index.position(linked_id)
            entry = index.at(position)
            candidates[linked_id] = Candidate(
                id=linked_id,
                text=entry.text,
                score=inherited,
                via=f"link:{parent.id}",
                features={
                    "dense": float(dense[position]),
                    "lexical": float(lexical[position]) / top_lexical if top_lexical > 0 else 0.0,
                    "fused": 0.0,
                    "speaker": parent.features["speaker"],
                    "linked": 1.0,
                    "recency": 0.0,
                },
            )


def _add_persona_feature(
    index: MemoryIndex, ranked: list[Candidate], persona: Vectors | None
) -> None:
    """max cosine of each candidate with the persona's facts (0 without a persona)."""
    if persona is None or persona.shape[0] == 0 or not ranked:
        for candidate in ranked:
            candidate.features["persona"] = 0.0
        return
    vectors = np.stack([index.vector(c.id) for c in ranked])
    best = (vectors @ persona.T).max(axis=1)
    for candidate, value in zip(ranked, best, strict=True):
        candidate.features["persona"] = float(value)
