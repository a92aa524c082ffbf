"""bench.generalisation runs end to end on a few users and pairs (structure only)."""

from __future__ import annotations

import json

from bench import generalisation


def test_generalisation_bench_writes_every_method_on_every_set(
    tmp_path, encoder_cache, monkeypatch, capsys
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "results" / "generalisation.json"

    code = generalisation.main(["--users", "30", "--msc-pairs", "6", "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text())
    cells = {(r["method"], r["dataset"], r["split"]) for r in report["rows"]}
    methods = (
        "cosine",
        "persona_maxsim",
        "head_previous",
        "head_central",
        "persona_null",
        "head_null",
        "head_stance_stage",
        "head_null_stance_stage",
    )
    for method in methods:
        assert (method, "convai2", "unseen_users") in cells
        assert (method, "convai2", "later_turns") in cells
        assert (method, "msc", "valid_sessions_2_4") in cells
        assert (method, "prefeval", "mcq_dev_topics") in cells
    assert all(0.0 <= r["hits@1"] <= 100.0 for r in report["rows"])
    assert all(len(r["hits@1_per_seed"]) == 3 for r in report["rows"])
    prefeval = [r for r in report["rows"] if r["dataset"] == "prefeval"]
    assert all(len(r["per_topic"]) == 8 and r["n"] == 377 for r in prefeval)
    assert report["config"]["seeds"] == [0, 1, 2]
    assert "prefeval worst topic" in capsys.readouterr().out
