"""bench.store runs end to end on a few items and writes a complete report (no timing checks)."""

import json

from bench import store


def test_bench_store_writes_a_complete_report(tmp_path, capsys):
    out = tmp_path / "results" / "store.json"  # the folder does not exist yet

    assert store.main(["--items", "50", "--runs", "3", "--out", str(out)]) == 0

    report = json.loads(out.read_text(encoding="utf-8"))
    assert set(report) == {"config", "rows", "first_round_read_ratios", "unlock_seconds", "targets"}
    assert report["config"]["items"] == 50
    assert report["config"]["runs"] == 3
    assert set(report["first_round_read_ratios"]) == set(store.READ_OPERATIONS)
    assert {"algorithm", "memory_kib", "iterations", "lanes"} == set(report["config"]["kdf"])
    assert [row["operation"] for row in report["rows"]] == list(store.OPERATIONS)
    for row in report["rows"]:
        assert row["items"] == 50
        for key in ("sealed_ops_per_s", "plaintext_ops_per_s", "ratio_sealed_over_plaintext"):
            assert row[key] > 0, (row["operation"], key)
        ratios = row["ratios_per_round"]
        assert len(ratios) == 3
        assert all(ratio > 0 for ratio in ratios)
        assert row["ratio_sealed_over_plaintext"] == sorted(ratios)[1]  # the median round
    unlock = report["unlock_seconds"]
    assert len(unlock["runs"]) == store.UNLOCK_RUNS
    assert all(seconds > 0 for seconds in unlock["runs"])
    assert unlock["median"] > 0
    assert set(report["targets"]) == {"reads_within_2x", "unlock_under_1s"}
    assert all(isinstance(met, bool) for met in report["targets"].values())
    assert "full scan" in capsys.readouterr().out
