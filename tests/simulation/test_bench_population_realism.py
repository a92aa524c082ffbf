"""bench.population_realism runs end to end on a few synthetic users (correctness only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import population_realism

CONVAI2_ROWS = [
    {"method": "cosine", "split": "unseen_users", "hits@1": 43.62, "mrr": 0.577, "n": 1559},
    {"method": "head_local", "split": "later_turns", "hits@1": 46.48, "mrr": 0.6019, "n": 2402},
]


def convai2_report(path: Path) -> Path:
    config = {
        "users": 1000,
        "unseen_users": 200,
        "train_examples": 3840,
        "seeds": [0, 1, 2],
        "persona_maxsim_lambda": 1.25,
        "candidates": "gold + 19 from other users",
    }
    path.write_text(json.dumps({"rows": CONVAI2_ROWS, "config": config}), encoding="utf-8")
    return path


def percentages(found: dict[str, Any]) -> list[float]:
    values = [found["topic_only_hits@1"], found["label_value_in_persona"]]
    for key in ("top1_on_topic", "within_topic_hits@1", "hits@1_value_in_persona"):
        values += [v for v in found[key].values() if v is not None]
    return values


def test_realism_bench_writes_both_columns_and_the_diagnostics(
    tmp_path: Path,
    encoder_cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    convai2 = convai2_report(tmp_path / "rerank.json")
    out = tmp_path / "results" / "realism.json"

    code = population_realism.main(
        ["--quick", "--users", "15", "--convai2", str(convai2), "--out", str(out)]
    )

    assert code == 0
    report = json.loads(out.read_text(encoding="utf-8"))
    rows = {(r["method"], r["split"]): r for r in report["rows"]}
    assert set(rows) == {
        (m, s) for m in population_realism.METHODS for s in ("unseen_users", "later_turns")
    }
    assert all(0.0 <= r["hits@1"] <= 100.0 and 0.0 < r["mrr"] <= 1.0 for r in rows.values())
    assert report["convai2"]["rows"] == CONVAI2_ROWS[:1]  # only the methods compared here
    assert report["chance"] == {"hits@1": 5.0, "mrr": pytest.approx(0.1799, abs=1e-4)}
    assert report["config"]["users"] == 15
    assert report["config"]["unseen_users"] == 3
    assert report["config"]["seeds"] == [0]
    for found in report["diagnostics"].values():
        assert 1.0 < found["topical_candidates_mean"] < 20.0
        assert all(0.0 <= value <= 100.0 for value in percentages(found))
    printed = capsys.readouterr().out
    assert "ConvAI2 (committed run)" in printed
    assert "chance" in printed


def test_a_missing_convai2_report_leaves_that_column_empty(tmp_path: Path) -> None:
    assert population_realism.convai2_column(tmp_path / "missing.json") is None
