"""bench.head_averaging runs end to end on a few devices (correctness only, no timings)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench import head_averaging


def test_published_heads_average_the_rounds_from_round_one():
    before, first, second = np.zeros(2), np.array([2.0, 0.0]), np.array([4.0, 2.0])

    variants = head_averaging.published_heads([before, first, second], [0.5])

    np.testing.assert_array_equal(variants["last"], second)
    np.testing.assert_allclose(variants["average_0.5"], [3.0, 1.0])


def test_the_bench_writes_a_row_per_seed_method_and_split(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "averaging.json"

    code = head_averaging.main(
        ["--clients", "12", "--rounds", "2", "--clients-per-round", "6", "--seeds", "0", "1",
         "--betas", "0.5", "--out", str(out)]
    )  # fmt: skip

    assert code == 0
    report = json.loads(out.read_text())
    keys = {(r["method"], r["seed"], r["split"]) for r in report["rows"]}
    for seed in (0, 1):
        for method in ("last", "average_0.5"):
            assert (method, seed, "unseen_users") in keys
            assert (method, seed, "later_turns") in keys
    assert all(0.0 <= r["hits@1"] <= 100.0 and r["rounds"] == 2 for r in report["rows"])
    assert {m["seeds"][-1] for m in report["means"]} == {1}


def _report(path: Path, configuration: str, seed: int, hits: float) -> Path:
    rows = [
        {"method": "last", "seed": seed, "split": "later_turns", "hits@1": hits, "epsilon": 3.0}
    ]
    config = {"configuration": configuration, "seconds": 10.0, "seeds": [seed]}
    path.write_text(json.dumps({"rows": rows, "means": [], "config": config}))
    return path


def test_reports_of_one_configuration_merge_into_one_mean_over_their_seeds(tmp_path):
    parts = [_report(tmp_path / f"{s}.json", "conservative", s, h) for s, h in ((0, 50), (2, 53))]
    out = tmp_path / "merged.json"

    assert head_averaging.main(["--merge", *map(str, parts), "--out", str(out)]) == 0

    merged = json.loads(out.read_text())
    assert merged["means"] == [
        {"epsilon": 3.0, "method": "last", "split": "later_turns", "hits@1": 51.5, "seeds": [0, 2]}
    ]
    assert merged["config"]["seeds"] == [0, 2]
    assert merged["config"]["seconds"] == 20.0


def test_reports_of_different_configurations_are_not_merged(tmp_path):
    parts = [_report(tmp_path / "a.json", "conservative", 0, 50.0)]
    parts.append(_report(tmp_path / "b.json", "large_step", 1, 52.0))

    with pytest.raises(ValueError, match="different configurations"):
        head_averaging.merge(parts, tmp_path / "merged.json")
