"""The engine keeps its search stage's evidence: the head reorders only the window it
learned on (docs/benchmarks.md, LoCoMo)."""

from __future__ import annotations

import numpy as np

from client.memory_engine import EngineConfig, FeatureHead, MemoryEngine
from client.memory_engine.retrieval import FEATURES, Candidate, query_vectors, search


def _head(**weights: float) -> FeatureHead:
    return FeatureHead(np.array([weights.get(name, 0.0) for name in FEATURES]))


def _candidates(count: int) -> list[Candidate]:
    """In search order (score falling); the lexical feature rises down the list."""
    return [
        Candidate(id=f"c{i}", text=f"c{i}", score=float(count - i), features={"lexical": i})
        for i in range(count)
    ]


def test_the_head_reorders_its_window_and_keeps_the_tail_in_search_order():
    head = _head(lexical=1.0)

    everything = head.rerank(_candidates(6))
    windowed = head.rerank(_candidates(6), depth=3)

    assert [c.id for c in everything] == ["c5", "c4", "c3", "c2", "c1", "c0"]
    assert [c.id for c in windowed] == ["c2", "c1", "c0", "c3", "c4", "c5"]
    scores = [c.score for c in windowed]
    assert scores == sorted(scores, reverse=True)  # a later sort by score keeps the order
    assert [c.features["retrieval"] for c in windowed[3:]] == [3.0, 2.0, 1.0]


def test_the_engine_keeps_what_search_ranked_beyond_the_heads_window(profile, onnx_embedder):
    config = EngineConfig(rerank_depth=3, top_k=20, relevance_floor=0.0)
    engine = MemoryEngine(profile, onnx_embedder, config=config, head=_head(retrieval=-1.0))
    lines = [
        "I adopted a grey cat called Miso last spring.",
        "Miso the cat sleeps on my piano.",
        "My cat Miso hates the vacuum cleaner.",
        "I repaired my bicycle chain on Sunday.",
        "We hiked up the hill behind the lake.",
        "The bakery on our street sells rye bread.",
        "I am learning to play the cello.",
    ]
    for line in lines:
        engine.add_turn("s1", line)
    engine.end_session("s1")
    message = "Tell me about Miso the cat"
    query, nameless = query_vectors(engine.embedder, engine.index, message, config)
    searched = [c.id for c in search(engine.index, message, query, config, nameless=nameless)]

    kept = [c.id for c in engine.retrieve(message).memories]

    # A head that reverses the search order may only reorder the first three (the
    # validator drops a fact that repeats its turn's words, wherever it falls).
    window, tail = searched[:3][::-1], searched[3:]
    assert len([i for i in tail if i in kept]) >= 3
    assert kept == [i for i in window + tail if i in kept]
