"""bench.head_averaging runs end to end on a few devices (correctness only, no timings)."""

from __future__ import annotations

import json

import numpy as np

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
