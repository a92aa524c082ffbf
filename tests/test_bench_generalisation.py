"""bench.generalisation runs end to end on a few users and pairs (structure only)."""

from __future__ import annotations

import json

import pytest

from bench import generalisation
from bench.generalisation_eval import SeedResult


def test_generalisation_bench_writes_every_method_on_every_set(
    tmp_path, encoder_cache, monkeypatch, capsys
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "results" / "generalisation.json"

    # One seed: each seed is the same code on another draw (the mean over seeds: below).
    code = generalisation.main(
        ["--users", "20", "--msc-pairs", "6", "--seeds", "1", "--out", str(out)]
    )

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
        "head_null_stance_stage_liked_any_owner",
        "head_null_ensemble",
        "head_null_ensemble_stance_stage_liked",
    )
    for method in methods:
        assert (method, "convai2", "unseen_users") in cells
        assert (method, "convai2", "later_turns") in cells
        assert (method, "msc", "valid_sessions_2_4") in cells
        assert (method, "prefeval", "mcq_dev_topics") in cells
    assert all(0.0 <= r["hits@1"] <= 100.0 for r in report["rows"])
    assert all(r["hits@1_per_seed"] == [r["hits@1"]] for r in report["rows"])
    prefeval = [r for r in report["rows"] if r["dataset"] == "prefeval"]
    assert all(len(r["per_topic"]) == 8 and r["n"] == 377 for r in prefeval)
    assert report["config"]["seeds"] == [0]
    assert "prefeval worst topic" in capsys.readouterr().out


def test_a_row_is_the_mean_over_seeds_with_each_seed_kept():
    key = ("head_null", "prefeval", "mcq_dev_topics")
    seeds = [
        SeedResult(hits={key: hits}, sizes={("prefeval", "mcq_dev_topics"): 377}, per_topic=topics)
        for hits, topics in (
            (0.5, {"head_null": {"travel": 0.25, "food": 0.75}}),
            (0.7, {"head_null": {"travel": 0.5, "food": 1.0}}),
            (0.6, {"head_null": {"travel": 0.75, "food": 0.5}}),
        )
    ]

    (row,) = generalisation.mean_rows(seeds)

    assert (row["method"], row["dataset"]) == ("head_null", "prefeval")
    assert row["hits@1"] == pytest.approx(60.0)
    assert row["hits@1_per_seed"] == [50.0, 70.0, 60.0]
    assert row["per_topic"] == {"travel": 50.0, "food": 75.0}
    assert row["n"] == 377


def test_a_cell_missing_from_one_seed_is_left_out():
    present, absent = ("m", "msc", "a"), ("m", "msc", "b")
    seeds = [
        SeedResult(hits={present: 0.5, absent: 0.5}, sizes={("msc", "a"): 1, ("msc", "b"): 1}),
        SeedResult(hits={present: 0.5}, sizes={("msc", "a"): 1}),
    ]

    assert [r["split"] for r in generalisation.mean_rows(seeds)] == ["a"]


def test_the_reply_rows_run_end_to_end_with_the_stage_on_each_head(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "reply_stage.json"

    arguments = ["--users", "20", "--msc-pairs", "6", "--seeds", "1", "--rows", "reply_stage"]

    code = generalisation.main([*arguments, "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text())
    methods = {r["method"] for r in report["rows"]}
    for head in ("head_null", "head_reply", "head_null_reply"):
        assert head in methods
        assert f"{head}_stance_stage_liked" in methods
    assert {"cosine", "persona_maxsim", "persona_null"} <= methods
    # The other row sets' heads are not trained here.
    assert not methods & {"head_central", "head_previous", "head_null_ensemble"}
    assert "head_reply" in report["config"]
