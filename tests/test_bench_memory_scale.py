"""bench.memory_scale's rows on a small store: both modes, and the ANN row's quality figures."""

from __future__ import annotations

import numpy as np

from bench.memory_scale import items_of, measure


def test_measure_gives_an_exact_and_an_approximate_row(tmp_path, onnx_embedder):
    texts = [f"I went hiking near lake number {i} with my dog" for i in range(40)]
    vectors = onnx_embedder.embed(texts)
    items = items_of(texts, vectors, 120, np.random.default_rng(0))  # past 40: perturbed copies
    queries = ["where did I go hiking?", "my dog", "lake trips"]

    rows = measure(tmp_path, 120, items, queries, onnx_embedder)

    assert [row["dense"] for row in rows] == ["exact", "ann"]
    exact, approximate = rows
    assert exact["engine_default"] == "exact"  # 120 items are far below the threshold
    assert 0.0 <= approximate["recall_at_10"] <= 100.0
    assert 0.0 <= approximate["retrieval_agreement"] <= 100.0
    assert approximate["ann_mib"] > 0
    assert exact["ann_mib"] == 0
    for row in rows:
        assert row["items"] == 120
        assert row["queries"] == 3
        assert row["latency_ms_p95"] >= row["latency_ms_p50"] > 0
        assert row["cpu_ms_p95"] >= row["cpu_ms_p50"] >= 0
        assert row["load_s"] > 0
        assert row["first_answer_s"] > row["unlock_s"] > 0
        assert row["seal_s"] > 0  # the search index was sealed after the first answer
        assert row["first_answer_sealed_s"] > row["load_sealed_s"] > 0
