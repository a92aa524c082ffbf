from __future__ import annotations

import sqlite3

from server.metrics_store import SCHEMA_VERSION, AuditRow, MetricsStore, RoundRow


def _row(number: int) -> RoundRow:
    return RoundRow(
        round=number,
        clients_sampled=12,
        clients_completed=11,
        clients_dropped=1,
        clients_rejected=0,
        train_loss=1.5,
        eval_hits_at_1=0.4,
        epsilon_rdp=0.5 * number,
        epsilon_pld=0.4 * number,
        delta=1e-5,
        noise_multiplier=1.1,
        clipping_norm=1.0,
        fraction_clipped=0.25,
        statistic_noise_std=5.0,
        wall_seconds=2.0,
    )


def test_rounds_and_run_state_are_written_with_the_documented_columns(tmp_path):
    store = MetricsStore(tmp_path / "metrics.sqlite")
    store.start_run({"epsilon": 8.0, "clients": 100})

    store.append_round(_row(1))
    store.append_round(_row(2))
    store.finish_run("budget_exhausted", "stopped before round 3")
    store.close()

    conn = sqlite3.connect(tmp_path / "metrics.sqlite")
    columns = {row[1] for row in conn.execute("PRAGMA table_info(rounds)")}
    assert {
        "round",
        "clients_sampled",
        "clients_completed",
        "epsilon_rdp",
        "epsilon_pld",
        "delta",
        "noise_multiplier",
        "clipping_norm",
        "train_loss",
    } <= columns
    assert conn.execute("SELECT state, detail FROM run").fetchone() == (
        "budget_exhausted",
        "stopped before round 3",
    )
    reopened = MetricsStore(tmp_path / "metrics.sqlite")
    assert reopened.last_round() == 2
    assert [r["epsilon_rdp"] for r in reopened.rounds()] == [0.5, 1.0]
    info = reopened.run_info()
    assert info is not None
    assert info["settings"] == {"epsilon": 8.0, "clients": 100}


def test_a_resumed_run_keeps_its_rounds_and_start_time(tmp_path):
    store = MetricsStore(tmp_path / "metrics.sqlite")
    store.start_run({"rounds": 5})
    store.append_round(_row(1))
    first = store.run_info()
    store.close()

    resumed = MetricsStore(tmp_path / "metrics.sqlite")
    resumed.start_run({"rounds": 5})

    info = resumed.run_info()
    assert first is not None
    assert info is not None
    assert info["started_at"] == first["started_at"]
    assert info["state"] == "running"
    assert resumed.last_round() == 1


def test_the_run_row_says_what_its_epsilon_rests_on(tmp_path):
    said = "no amplification: holds however devices are chosen, as long as each device ..."
    store = MetricsStore(tmp_path / "metrics.sqlite")
    store.start_run({"rounds": 5}, accounting_assumption=said)
    store.close()

    reopened = MetricsStore(tmp_path / "metrics.sqlite")
    info = reopened.run_info()
    reopened.close()

    assert info is not None
    assert info["accounting_assumption"] == said
    assert info["schema_version"] == 4  # 4: the personalisation columns


def _audit(verdict: str) -> AuditRow:
    return AuditRow(
        recorded_at=1.0,
        broken="" if verdict == "consistent" else "no-noise",
        secure_aggregation=1,
        rounds=1,
        trials_per_arm=600,
        ledger_epsilon=2.0,
        empirical_epsilon_lower=0.5 if verdict == "consistent" else 4.9,
        ci_high=None,
        confidence=0.95,
        verdict=verdict,
        checks_passed=2,
        checks_total=2,
    )


def test_audits_are_appended_beside_the_rounds_and_read_back_in_order(tmp_path):
    store = MetricsStore(tmp_path / "metrics.sqlite")
    store.start_run({"epsilon": 8.0})
    store.append_round(_row(1))

    store.record_audit(_audit("consistent"))
    store.record_audit(_audit("caught"))
    store.close()

    reopened = MetricsStore(tmp_path / "metrics.sqlite")
    assert [a.verdict for a in reopened.audits()] == ["consistent", "caught"]
    assert reopened.audits()[1].ci_high is None
    assert reopened.last_round() == 1
    info = reopened.run_info()
    assert info is not None
    assert info["schema_version"] == SCHEMA_VERSION == 4
