"""`fedpersona simulate` as a user runs it: a separate process, a summary to read."""

from __future__ import annotations

import pytest

from server.metrics_store import MetricsStore
from tests.conftest import run_cli


def test_simulate_prints_each_round_and_a_summary_with_the_metrics_store(tmp_path, encoder_cache):
    out = tmp_path / "run"

    result = run_cli(
        "simulate",
        "--clients", "6",
        "--clients-per-round", "5",
        "--sampling", "fixed_size",
        "--rounds", "2",
        "--local-epochs", "1",
        "--secure-aggregation",
        "--out", str(out),
        env={"FEDPERSONA_CACHE_DIR": str(encoder_cache)},
        timeout=600,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines if line.startswith("round")] == [
        ["round", "1"],
        ["round", "2"],
    ]
    assert "run completed: 2 rounds" in result.stdout
    assert "privacy: epsilon" in result.stdout
    assert "of a budget of 8" in result.stdout  # fixed-size sampling: RDP only, no PLD
    assert f"metrics store: {out / 'metrics.sqlite'}" in result.stdout
    info = MetricsStore(out / "metrics.sqlite").run_info()
    assert info is not None
    assert info["settings"]["secure_aggregation"] is True


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--clients", "1"], "clients must be at least 2"),
        (["--dropout-tolerance", "0.6"], "dropout_tolerance must be in [0, 0.5)"),
        (["--epsilon", "0"], "epsilon must be positive"),
    ],
)
def test_simulate_refuses_bad_settings_with_a_clear_error(tmp_path, arguments, message):
    result = run_cli("simulate", *arguments, "--out", str(tmp_path / "run"))

    assert result.returncode != 0
    assert message in result.stderr
    assert not (tmp_path / "run").exists()  # nothing set up
