"""Dense search above the approximate-index threshold (set low, so small indexes use it)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.locomo_data import SAMPLE_FILE, dia_ids_of, ingest, load_conversations
from client.memory_engine import EngineConfig, MemoryEngine
from client.memory_engine.ann import AnnIndex
from client.memory_engine.index import IndexEntry, MemoryIndex, top_positions
from client.memory_engine.retrieval import Stages, search
from models.data.locations import data_dir


def _clustered(count: int, seed: int = 0) -> np.ndarray:
    """Unit vectors around 40 topics: nearest neighbours are well defined, like sentences."""
    rng = np.random.default_rng(seed)
    topics = rng.standard_normal((40, 64)).astype(np.float32)
    vectors = topics[rng.integers(0, 40, count)] + 0.6 * rng.standard_normal((count, 64))
    unit: np.ndarray = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit


def _index(vectors: np.ndarray, threshold: int) -> MemoryIndex:
    index = MemoryIndex(vectors.shape[1], ann_threshold=threshold)
    entries = [IndexEntry(id=f"m{i}", text=f"text {i}", kind="turn") for i in range(len(vectors))]
    index.add_many(entries, vectors)
    return index


def test_approximate_top_ten_agrees_with_the_exact_scan():
    vectors = _clustered(3000)
    queries = _clustered(50, seed=1)
    exact, approximate = _index(vectors, 10**9), _index(vectors, 1000)

    found = [
        len(
            set(top_positions(exact.dense_scores(q), 10))
            & set(top_positions(approximate.dense_scores(q), 10))
        )
        for q in queries
    ]

    assert approximate.uses_ann()
    assert not exact.uses_ann()
    assert np.mean(found) / 10 >= 0.9


def test_scores_of_found_rows_are_exact_and_the_rest_no_higher():
    vectors = _clustered(2000)
    index = _index(vectors, 500)
    query = _clustered(1, seed=5)[0]

    scores = index.dense_scores(query)

    truth = vectors @ query
    best = top_positions(scores, 10)
    assert np.allclose(scores[best], truth[best], atol=1e-5)
    assert scores.min() >= truth.min() - 1e-5
    assert np.count_nonzero(scores > scores.min()) > 10


def test_a_removed_item_is_never_found_again():
    vectors = _clustered(2000)
    index = _index(vectors, 500)
    index.dense_scores(vectors[0])  # builds the approximate index
    before = len(index._ann) if index._ann else 0

    index.remove({"m7", "m8"})

    assert index._ann is not None
    assert len(index._ann) == before - 2
    for row in (7, 8):
        assert all(item_id not in {"m7", "m8"} for item_id, _ in index.nearest(vectors[row], 20))
    assert index.nearest(vectors[9], 1)[0][0] == "m9"  # rows after the removed ones still map


def test_items_added_after_the_build_are_found():
    vectors = _clustered(2001)
    index = _index(vectors[:2000], 500)
    index.dense_scores(vectors[0])

    index.add(IndexEntry(id="new", text="new", kind="turn"), vectors[2000])

    assert index.nearest(vectors[2000], 1)[0][0] == "new"


def test_below_the_threshold_search_is_the_exact_scan_again():
    vectors = _clustered(1200)
    index = _index(vectors, 1000)
    index.dense_scores(vectors[0])
    assert index._ann is not None

    index.remove({f"m{i}" for i in range(300)})

    assert np.allclose(index.dense_scores(vectors[500]), vectors[300:] @ vectors[500], atol=1e-6)
    assert index._ann is None


def test_training_needs_a_vector():
    with pytest.raises(ValueError, match="at least one vector"):
        AnnIndex(np.zeros((0, 8), np.float32), np.random.default_rng(0))


def test_the_engine_still_finds_locomo_evidence_with_the_approximate_index(profile, onnx_embedder):
    (conversation,) = load_conversations(data_dir(), SAMPLE_FILE)
    engine = MemoryEngine(profile, onnx_embedder, config=EngineConfig(top_k=30))
    engine.index.ann_threshold = 1  # every search goes through the approximate index
    dia_of = ingest(engine, conversation)

    recall = []
    for question in conversation.questions:
        found = dia_ids_of(
            engine, [c.id for c in engine.retrieve(question.question).memories], dia_of
        )
        recall.append(len(set(question.evidence) & set(found[:10])) / len(question.evidence))

    assert engine.index.uses_ann()
    assert engine.index._ann is not None
    assert sum(recall) / len(recall) >= 0.6  # the exact scan's bound in the reading tests


def test_a_word_match_the_approximate_index_did_not_propose_keeps_its_true_score():
    # A row far from the query in meaning but sharing its rare word: the approximate index
    # does not propose it; BM25 does. It must be fused with its own cosine, not with the
    # lowest proposed one (which lifted such rows into the top at 100k items).
    vectors = _clustered(3000)
    query = vectors[0]
    far = int(np.argmin(vectors @ query))
    index = MemoryIndex(vectors.shape[1], ann_threshold=0)
    entries = [
        IndexEntry(id=f"m{i}", text="zorblax marathon" if i == far else f"text {i}", kind="turn")
        for i in range(len(vectors))
    ]
    index.add_many(entries, vectors)
    config = EngineConfig(candidates=3000, lexical_weight=1.0)  # every row a candidate

    approximate = search(index, "zorblax", query, config, Stages(context=False, links=False))
    index.ann_threshold = 2**62
    exact = search(index, "zorblax", query, config, Stages(context=False, links=False))

    true_cosine = float(vectors[far] @ query)
    assert true_cosine < -0.2
    dense = {c.id: c.features["dense"] for c in approximate}
    assert dense[f"m{far}"] == pytest.approx(true_cosine, abs=1e-5)
    rank = [c.id for c in approximate].index(f"m{far}")
    assert rank == [c.id for c in exact].index(f"m{far}")
