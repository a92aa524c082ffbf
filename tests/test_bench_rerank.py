"""bench.rerank_personachat runs end to end on a few users (correctness only, no timings)."""

from __future__ import annotations

import json

import pytest

from bench import rerank_personachat


def test_rerank_bench_writes_every_row_and_the_latency(
    tmp_path, encoder_cache, monkeypatch, capsys
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "results" / "rerank.json"

    code = rerank_personachat.main(["--quick", "--users", "30", "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text())
    methods = {(r["method"], r["split"]) for r in report["rows"]}
    for method in ("cosine", "cosine_persona", "persona_maxsim", "head_central"):
        assert (method, "unseen_users") in methods
        assert (method, "later_turns") in methods
    assert ("head_local", "later_turns") in methods
    assert all(0.0 <= r["hits@1"] <= 100.0 and 0.0 < r["mrr"] <= 1.0 for r in report["rows"])
    assert report["config"]["users"] == 30
    assert report["config"]["unseen_users"] == 6
    assert report["latency"]["score_50_candidates_p95_ms"] > 0
    assert [a["hits@1"] for a in report["anchors"]] == pytest.approx([49.1, 50.9, 51.1, 55.1])
    assert "hits@1" in capsys.readouterr().out
