"""bench.population runs end to end on a small population and writes the issue's keys."""

from __future__ import annotations

import json
import shutil

import pytest

from bench import population as bench

ISSUE_KEYS = {
    "users",
    "seconds",
    "mean_attributes",
    "near_duplicate_share",
    "uniqueness",
    "lexical_baseline_hits@1",
    "near_middle_far_ratio",
}
SAMPLE = bench.data_dir(None) / "convai2_personachat/valid_both_original_no_cands-sample.txt"


def test_bench_writes_the_issue_keys_and_skips_convai2_without_data(tmp_path, capsys):
    out = tmp_path / "results" / "population.json"  # the folder does not exist yet

    code = bench.main(["--users", "200", "--out", str(out), "--data-dir", str(tmp_path / "none")])

    report = json.loads(out.read_text(encoding="utf-8"))
    assert code == 0
    assert set(report) >= ISSUE_KEYS
    assert report["users"] == 200
    assert report["mean_attributes"] > 40
    assert 0.0 <= report["near_duplicate_share"] <= 1.0
    assert 0.0 < report["uniqueness"] <= 1.0
    assert report["lexical_baseline_hits@1"] <= 0.8
    assert len(report["near_middle_far_ratio"]) == 3
    assert sum(report["near_middle_far_ratio"]) == pytest.approx(1.0)
    assert report["realism"]["convai2"] is None
    assert set(report["ablation"]) == set(bench.ABLATION_RATIOS)
    printed = capsys.readouterr().out
    assert "ConvAI2 column skipped" in printed
    assert "DeepPersona" in printed


def test_bench_puts_convai2_beside_the_synthetic_users(tmp_path, capsys):
    # The data set is required here (CI has it): a missing file fails, it is not skipped.
    assert SAMPLE.is_file(), f"ConvAI2 sample not found at {SAMPLE}; set FEDPERSONA_DATA_DIR"
    data = tmp_path / "data"
    (data / bench.CONVAI2).parent.mkdir(parents=True)
    shutil.copy(SAMPLE, data / bench.CONVAI2)  # a temporary copy, never into the repo
    out = tmp_path / "population.json"

    bench.main(["--users", "50", "--out", str(out), "--data-dir", str(data)])

    convai2 = json.loads(out.read_text(encoding="utf-8"))["realism"]["convai2"]
    assert convai2["users"] == 5
    assert set(convai2["lexical"]) == {"request", "request + history", "request + persona"}
    assert all(row["examples"] > 20 for row in convai2["lexical"].values())
    assert "ConvAI2 valid" in capsys.readouterr().out
