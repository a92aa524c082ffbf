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


def test_a_caught_break_is_a_success_of_the_audit(tmp_path, encoder_cache, monkeypatch):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "caught.json"

    code = main(["audit", "--quick", "--break", "no-noise", "--out", str(out)])

    result = json.loads(out.read_text())
    assert code == 0
    assert result["broken"] == "no-noise"
    assert result["verdict"] == "caught"
    assert result["empirical_epsilon_lower"] > result["ledger_epsilon"]
    assert result["one_run"]["exceeds_ledger"] is True


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


def test_a_run_with_plain_rounds_is_audited_in_plain_rounds(
    tmp_path, capsys, encoder_cache, monkeypatch
):
    """The server's re-clip repairs a device that skips clipping: nothing to catch there, and
    a break the audit misses is a failure (exit code 1)."""
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    run, out = tmp_path / "run", tmp_path / "audit.json"
    store = MetricsStore(run / "metrics.sqlite")
    store.start_run({"secure_aggregation": False})
    store.close()

    code = main(
        ["audit", "--quick", "--break", "no-clipping", "--run", str(run), "--out", str(out)]
    )

    result = json.loads(out.read_text())
    assert code == 1
    assert "was missed" in capsys.readouterr().err
    assert result["secure_aggregation"] is False
    assert result["verdict"] == "missed"
