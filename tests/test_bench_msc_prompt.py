"""bench.msc_prompt runs end to end on two MSC pairs, and its baselines nest as they must."""

from __future__ import annotations

import json

from bench import msc_prompt
from client.llm.token_budget import WordPieceCounter


def test_msc_prompt_bench_scores_every_method_on_the_same_turns(
    tmp_path, encoder_cache, monkeypatch, capsys
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "results" / "msc_prompt.json"

    assert msc_prompt.main(["--pairs", "2", "--out", str(out)]) == 0

    report = json.loads(out.read_text())
    assert report["config"]["pairs"] == 2
    rows = {row["method"]: row for row in report["rows"]}
    fixed = [f"last {n} turns" for n in msc_prompt.FIXED_TURNS]
    expected = [msc_prompt.CHAT, msc_prompt.SAME_TOKENS, *fixed, msc_prompt.EVERYTHING]
    assert list(rows) == expected
    turns = report["config"]["scored_turns"]
    assert turns > 0
    assert all(row["turns"] == turns for row in rows.values())
    for row in rows.values():
        assert 0.0 <= row["all_gold_in_prompt_pct"] <= 100.0
        assert 0.0 <= row["gold_fact_recall_pct"] <= 100.0
    # More raw history never finds fewer facts, and the raw baseline at the chat's
    # tokens never uses more tokens than the chat's history part did.
    recalls = [rows[m]["gold_fact_recall_pct"] for m in [*fixed, msc_prompt.EVERYTHING]]
    assert recalls == sorted(recalls)
    assert rows[msc_prompt.SAME_TOKENS]["mean_tokens"] <= rows[msc_prompt.CHAT]["mean_tokens"]
    assert "all gold in prompt" in capsys.readouterr().out


def test_last_within_keeps_the_most_recent_lines_that_fit() -> None:
    counter = WordPieceCounter()
    lines = ["user: one", "assistant: two", "user: three"]
    size = counter.count("\n".join(lines[1:]))
    assert msc_prompt.last_within(lines, size, counter) == lines[1:]
    assert msc_prompt.last_within(lines, size - 1, counter) == lines[2:]
    assert msc_prompt.last_within(lines, 0, counter) == []
