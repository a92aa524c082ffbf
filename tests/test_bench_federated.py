"""bench.federated runs end to end on a few devices (correctness only, no timings)."""

from __future__ import annotations

import json

from bench import federated


def test_federated_bench_writes_rows_for_each_epsilon_and_throughput(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "federated.json"

    code = federated.main(
        [
            "--clients",
            "12",
            "--rounds",
            "2",
            "--clients-per-round",
            "6",
            "--epsilons",
            "inf",
            "8",
            "--throughput",
            "20",
            "--public-users",
            "4",
            "--out",
            str(out),
        ]
    )

    assert code == 0
    report = json.loads(out.read_text())
    keys = {(r["method"], r["epsilon"], r["split"]) for r in report["rows"]}
    for epsilon in (None, 8.0):
        assert ("federated", epsilon, "unseen_users") in keys
        assert ("federated", epsilon, "later_turns") in keys
        assert ("federated_finetuned", epsilon, "later_turns") in keys
    # The public head (pretrained on generated users and SPC, no device's data) and the
    # federation that starts from it.
    assert ("public_pretrained", 0.0, "unseen_users") in keys
    assert ("federated_from_public", 8.0, "later_turns") in keys
    assert report["config"]["public_data"]["generated_users"] > 0
    noisy = [r for r in report["rows"] if r["epsilon"] == 8.0]
    assert all(0 < r["epsilon_rdp"] <= 8.0 and r["noise_multiplier"] > 0 for r in noisy)
    assert all(0.0 <= r["hits@1"] <= 100.0 and r["clients_per_round"] == 6 for r in report["rows"])
    (row,) = report["throughput"]
    assert row["clients"] == 20
    assert row["sampled"] == 2
    assert row["updates_per_s"] > 0
    assert row["peak_rss_mb"] > 0
