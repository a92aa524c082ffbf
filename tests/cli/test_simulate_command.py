"""`fedpersona simulate` as a user runs it: a separate process, a summary to read."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from server.metrics_store import MetricsStore
from server.run_settings import RunSettings
from simulation import simulate as simulate_module
from simulation.populations import synthetic_population
from simulation.run_workspace import prepare_workspace
from simulation.simulated_devices import WORKSPACE_FILE
from tests.cli.cli_harness import as_unprivileged, one_line, run_cli_process, run_main
from tests.conftest import RAY, REPO_ROOT, run_cli

# Starts Ray: one Ray simulation at a time (tests/conftest.py).
pytestmark = RAY


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
    # A simulation samples for real, so its epsilon is amplified, and the server says so.
    assert "It rests on this: amplified by sampling 5 of 6 devices" in result.stdout
    assert f"metrics store: {out / 'metrics.sqlite'}" in result.stdout
    assert "what delta means" not in result.stdout  # the sentence itself, not a placeholder
    assert "expected number for whom it fails" in result.stdout
    info = MetricsStore(out / "metrics.sqlite").run_info()
    assert info is not None
    assert info["settings"]["secure_aggregation"] is True
    before, after = info["heldout_hits_before"], info["heldout_hits_after"]
    assert before is not None
    assert after is not None
    assert f"{before:.1f} before -> {after:.1f} after" in result.stdout
    assert sum("held-out hits@1" in line for line in lines) == 2  # one per round


@pytest.fixture
def no_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command gets as far as setting a run up."""

    def set_up_started(*_: Any, **__: Any) -> None:
        raise AssertionError("set-up started although the command should have refused")

    monkeypatch.setattr(simulate_module, "simulate", set_up_started)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--clients", "1"], "clients must be at least 2"),
        (["--clients", "0"], "clients must be at least 2"),
        (["--rounds", "0"], "rounds must be positive"),
        (["--epsilon", "nan"], "epsilon must be positive"),
        (["--dropout-tolerance", "0.6"], "dropout_tolerance must be in [0, 0.5)"),
        (["--epsilon", "0"], "epsilon must be positive"),
        (["--clients", "20", "--clients-per-round", "50"], "clients_per_round must be in [1, 20]"),
        (["--learning-rate", "nan"], "learning_rate must be a positive finite number"),
        (["--local-epochs", "0"], "local_epochs must be at least 1"),
        (["--seed", "-1"], "seed must be >= 0"),
        (["--participation-cap", "2"], "applies to unamplified accounting only"),
        (["--accounting", "unamplified", "--participation-cap", "0"], "must be >= 1, got 0"),
        (
            [
                "--clients",
                "20",
                "--clients-per-round",
                "3",
                "--sampling",
                "fixed_size",
                "--delta",
                "0.1",
            ],
            "below 1/clients",
        ),
        (["--clients", "20", "--clients-per-round", "3", "--delta", "0.9"], "below 1/clients"),
    ],
)
def test_simulate_refuses_bad_settings_with_exit_2_before_any_set_up(
    tmp_path, no_set_up, arguments, message
):
    result = run_main(["simulate", *arguments, "--out", str(tmp_path / "run")])

    assert result.code == 2, result
    assert one_line(result.stderr), result.stderr
    assert message in result.stderr
    assert "setting up" not in result.stdout
    assert not (tmp_path / "run").exists()  # nothing set up


def test_simulate_refuses_a_run_folder_under_a_file_or_in_proc(tmp_path, no_set_up):
    blocker = tmp_path / "file"
    blocker.write_text("a regular file")

    results = [
        run_main(["simulate", "--out", out, "--noise-multiplier", "1"])
        for out in (str(blocker / "run"), str(blocker), "/proc/fedpersona-run")
    ]

    assert [r.code for r in results] == [2, 2, 5]
    assert all(one_line(r.stderr) for r in results), [r.stderr for r in results]
    assert str(blocker) in results[0].stderr


def test_simulate_refuses_a_read_only_folder_with_one_line(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)

    result = run_cli_process(
        "simulate", "--noise-multiplier", "1", "--out", str(folder / "run"), **as_unprivileged()
    )
    folder.chmod(0o755)

    assert result.returncode == 5, result.stderr
    assert one_line(result.stderr), result.stderr
    assert "permission denied" in result.stderr
    assert "setting up" not in result.stdout


def test_rerunning_a_run_folder_with_other_settings_is_one_line(tmp_path, no_set_up):
    out = tmp_path / "run"
    out.mkdir()
    RunSettings(clients=10, clients_per_round=5).save(out / "settings.json")
    (out / WORKSPACE_FILE).write_text("{}")

    result = run_main(
        ["simulate", "--clients", "12", "--clients-per-round", "5", "--out", str(out)]
    )

    assert result.code == 2
    assert one_line(result.stderr)
    assert "other settings" in result.stderr
    assert "clients" in result.stderr


def test_a_folder_holding_something_else_is_refused_and_left_alone(tmp_path, no_set_up):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"jpeg")

    result = run_main(["simulate", "--noise-multiplier", "1", "--out", str(out)])

    assert result.code == 2
    assert one_line(result.stderr)
    assert (out / "holiday.jpg").read_bytes() == b"jpeg"


def test_a_set_up_killed_midway_starts_over_by_itself(tmp_path, encoder_cache, monkeypatch):
    out = tmp_path / "run"
    arguments = ["--clients", "6", "--clients-per-round", "3", "--rounds", "1",
                 "--noise-multiplier", "1", "--out", str(out)]  # fmt: skip
    staging = tmp_path / ".run.setting-up"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "simulate", *arguments],
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "FEDPERSONA_CACHE_DIR": str(encoder_cache),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while not list(staging.glob("clients/*.fpstore")) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # in the middle of seeding the devices' stores
    process.wait(timeout=30)
    assert list(staging.glob("clients/*.fpstore")), "set-up never started"
    assert not (out / WORKSPACE_FILE).exists()
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = RunSettings(clients=6, clients_per_round=3, rounds=1, noise_multiplier=1.0)

    workspace = prepare_workspace(out, settings, synthetic_population(6, seed=0))

    assert (out / WORKSPACE_FILE).is_file()
    assert len(list(out.glob("clients/*.fpstore"))) == 6
    assert not staging.exists()
    assert workspace.devices.store_path(5).is_file()


def test_a_run_folder_left_half_set_up_by_an_older_version_starts_over(
    tmp_path, encoder_cache, monkeypatch
):
    out = tmp_path / "run"
    (out / "clients").mkdir(parents=True)
    (out / "clients" / "00000.fpstore").write_bytes(b"half a store")
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    settings = RunSettings(clients=4, clients_per_round=2, rounds=1, noise_multiplier=1.0)

    prepare_workspace(out, settings, synthetic_population(4, seed=0))

    assert (out / WORKSPACE_FILE).is_file()
    assert len(list(out.glob("clients/*.fpstore"))) == 4
