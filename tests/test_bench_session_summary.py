"""bench.session_summary end to end on LoCoMo sessions, with a model server on loopback."""

from __future__ import annotations

import json
from typing import Any

from bench import session_summary
from client.memory_engine.tokens import WordPieceCounter
from tests.client.llm_fake_server import fake_server
from tests.client.llm_memory_routes import CHAT, answer_route


def _rows(tmp_path, *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    out = tmp_path / "session_summary.json"
    assert session_summary.main(["--quick", "--sessions", "2", "--out", str(out), *extra]) == 0
    report = json.loads(out.read_text())
    return report, {row["method"]: row for row in report["rows"]}


def test_an_unusable_model_answer_leaves_the_extractive_summaries(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    with fake_server({CHAT: answer_route("")}) as server:
        report, rows = _rows(tmp_path, "--llm-url", server.url)
    sessions = report["config"]["sessions"]
    assert sessions == session_summary.QUICK_CONVERSATIONS * 2
    assert list(rows) == ["lead", "extractive", "llm"]
    budget = report["config"]["summary_budget_tokens"]
    for row in rows.values():
        assert 0 < row["max_tokens"] <= budget
        assert row["gold_sentences"] == rows["lead"]["gold_sentences"] > 0
    use = rows["llm"]["model_use"]
    assert use["answer_used"] == 0
    assert use["fell_back_to_extractive"] == sessions
    for key in ("coverage", "mean_best_cosine", "mean_tokens"):
        assert rows["llm"][key] == rows["extractive"][key]


def test_the_model_summary_is_the_one_scored(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    answer = "The user talked about painting a lake at sunrise."
    with fake_server({CHAT: answer_route(answer)}) as server:
        report, rows = _rows(tmp_path, "--llm-url", server.url)
    assert rows["llm"]["model_use"]["answer_used"] == report["config"]["sessions"]
    assert rows["llm"]["mean_tokens"] == WordPieceCounter().count(answer)
    assert rows["llm"]["coverage"] != rows["extractive"]["coverage"]


def test_lead_keeps_the_first_sentences_that_fit() -> None:
    counter = WordPieceCounter()
    lead = session_summary.LeadSummariser(counter)
    lines = ["I paint. I swim a lot.", "My kids love the lake."]
    first = counter.count("I paint.") + 1
    assert lead.summarise(lines, first) == "I paint."
    assert lead.summarise(lines, 1000) == "I paint. I swim a lot. My kids love the lake."
    assert lead.summarise(lines, 0) == ""
