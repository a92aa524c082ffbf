"""The checks every completed two-round local deployment must pass, in one place."""

from __future__ import annotations

from pathlib import Path

from client.process_tree import alive
from server.metrics_store import MetricsStore


def check_deployed_run(
    run_dir: Path,
    *,
    devices: int,
    secure_aggregation: bool,
    started: set[int],
    ended: set[int],
) -> None:
    """Both rounds counted every device, the run completed with the asked aggregation, its
    epsilon assumes no sampling (each device joins at most 2 rounds), and no process the
    deployment started is left alive."""
    store = MetricsStore(run_dir / "metrics.sqlite")
    assert [r["clients_completed"] for r in store.rounds()] == [devices, devices]
    info = store.run_info()
    assert info is not None
    assert info["state"] == "completed"
    assert info["settings"]["secure_aggregation"] is secure_aggregation
    assert info["settings"]["accounting"] == "unamplified"
    assert "no amplification" in info["accounting_assumption"]
    assert "at most 2 rounds" in info["accounting_assumption"]
    assert len(started) >= 4  # superlink + 3 supernodes (+ the runtimes they spawned)
    assert not [pid for pid in ended if alive(pid)]
