"""`fedpersona audit`: the JSON it writes, its exit codes, and the row it records for the
dashboard."""

from __future__ import annotations

import json

from cli.main import main
from server.metrics_store import MetricsStore

REQUIRED = {"ledger_epsilon", "empirical_epsilon_lower", "ci", "broken"}


def test_a_quick_honest_audit_writes_the_bound_beside_the_ledger(
    tmp_path, capsys, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "audit.json"

    code = main(["audit", "--quick", "--out", str(out)])

    result = json.loads(out.read_text())
    printed = capsys.readouterr().out
    assert code == 0
    assert set(result) >= REQUIRED
    assert result["broken"] is None
    assert result["empirical_epsilon_lower"] <= result["ledger_epsilon"]
    assert result["ci"]["low"] == result["empirical_epsilon_lower"]
    assert {c["name"] for c in result["checks"]} == {
        "unsafe-delta-refused",
        "secure-sums-hide-device-values",
    }
    assert all(c["passed"] for c in result["checks"])
    assert "ledger epsilon" in printed
    assert "empirical epsilon lower" in printed


def test_a_caught_break_succeeds_and_a_missed_one_fails(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    caught, missed = tmp_path / "caught.json", tmp_path / "missed.json"

    caught_code = main(["audit", "--quick", "--break", "no-noise", "--out", str(caught)])
    missed_code = main(
        ["audit", "--quick", "--plain", "--break", "no-clipping", "--out", str(missed)]
    )

    assert caught_code == 0
    assert json.loads(caught.read_text())["verdict"] == "caught"
    assert json.loads(caught.read_text())["broken"] == "no-noise"
    assert missed_code == 1
    assert json.loads(missed.read_text())["verdict"] == "missed"


def test_with_a_run_folder_the_audit_is_recorded_in_its_metrics_store(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    run = tmp_path / "run"
    MetricsStore(run / "metrics.sqlite").close()

    code = main(["audit", "--quick", "--break", "wrong-scale", "--run", str(run)])

    store = MetricsStore(run / "metrics.sqlite")
    (row,) = store.audits()
    store.close()
    assert code == 0
    assert row.broken == "wrong-scale"
    assert row.verdict == "caught"
    assert row.empirical_epsilon_lower > row.ledger_epsilon


def test_a_folder_that_is_not_a_run_is_a_usage_error(tmp_path, capsys):
    code = main(["audit", "--quick", "--run", str(tmp_path)])

    assert code == 2
    assert "not a run folder" in capsys.readouterr().err
