"""bench.msc_persona end to end on a few MSC episodes, with a model server on loopback."""

from __future__ import annotations

import json
from typing import Any

from bench import msc_persona
from tests.client.llm_fake_server import fake_server
from tests.client.llm_memory_routes import CHAT, answer_route

STATED = f"{msc_persona.STATED:.1f}"


def _rows(tmp_path, *extra: str) -> tuple[dict[str, Any], dict[str, Any]]:
    out = tmp_path / "msc_persona.json"
    assert msc_persona.main(["--quick", "--episodes", "2", "--out", str(out), *extra]) == 0
    report = json.loads(out.read_text())
    return report, {row["method"]: row for row in report["rows"]}


def test_a_model_answer_that_is_not_json_leaves_the_rules_row(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    with fake_server({CHAT: answer_route("Sure! Here are the facts.")}) as server:
        report, rows = _rows(tmp_path, "--llm-url", server.url)
    assert report["config"]["episodes_per_session"] == 2
    assert list(rows) == ["first_person_baseline", "engine_extractor", "llm_extractor"]
    for row in rows.values():
        assert row["by_threshold"][STATED]["gold"] > 0
    use = rows["llm_extractor"]["model_use"]
    assert use["answer_used"] == 0
    assert use["fell_back_to_rules"] == use["utterances"] > 0
    assert use["fallback_reasons"]
    assert rows["llm_extractor"]["by_threshold"] == rows["engine_extractor"]["by_threshold"]


def test_a_model_that_finds_nothing_is_scored_as_finding_nothing(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    with fake_server({CHAT: answer_route('{"facts": []}')}) as server:
        report, rows = _rows(tmp_path, "--llm-url", server.url, "--llm-model", "tiny")
    assert report["config"]["llm"] == {"url": server.url, "model": "tiny"}
    use = rows["llm_extractor"]["model_use"]
    assert use["answer_used"] == use["utterances"] > 0
    stated = rows["llm_extractor"]["by_threshold"][STATED]
    assert stated["extracted"] == 0
    assert stated["recall"] == 0.0
    assert rows["engine_extractor"]["by_threshold"][STATED]["extracted"] > 0
