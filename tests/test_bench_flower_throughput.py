"""bench.flower_throughput runs end to end on a few devices (correctness only, no timings)."""

from __future__ import annotations

import argparse
import json

import pytest

from bench import flower_throughput
from tests.conftest import RAY

# Starts Ray: one Ray simulation at a time (tests/conftest.py).
pytestmark = RAY


def test_flower_throughput_bench_measures_each_transport_on_the_same_devices(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "flower_throughput.json"

    code = flower_throughput.main(
        [
            "--configurations",
            "6:5",
            "--rounds",
            "2",
            "--transports",
            "in-process",
            "flower-secagg",
            "--out",
            str(out),
        ]
    )

    assert code == 0
    rows = json.loads(out.read_text())["rows"]
    assert [r["transport"] for r in rows] == ["in-process", "flower-secagg"]
    for row in rows:
        assert (row["devices"], row["per_round"], row["rounds"]) == (6, 5, 2)
        assert row["updates_per_s"] == pytest.approx(5 / row["median_round_seconds"])
        assert row["peak_mb"]["server"] > 0
    assert rows[0]["peak_mb"]["ray_workers"] == 0  # in-process: no Ray at all
    assert rows[1]["peak_mb"]["ray_workers"] > 0  # the devices ran in Ray's workers
    # Where the round went: the transport's share of it, and under SecAgg+ its four stages.
    in_process, secagg = (row["phase_seconds"] for row in rows)
    assert set(in_process) == {"transport", "server_rest"}
    assert set(secagg) == {
        "transport",
        "server_rest",
        "secagg_setup",
        "secagg_share_keys",
        "secagg_collect_masked_vectors",
        "secagg_unmask",
    }
    for phases, row in ((in_process, rows[0]), (secagg, rows[1])):
        assert 0 < phases["transport"] <= max(row["round_seconds"])
    stages = sum(v for k, v in secagg.items() if k.startswith("secagg_"))
    assert stages <= secagg["transport"] * 1.0001  # the stages run inside the transport


@pytest.mark.parametrize("text", ["5", "5:6", "0:0", "a:b"])
def test_a_configuration_must_be_devices_colon_a_cohort_no_larger(text):
    with pytest.raises(argparse.ArgumentTypeError):
        flower_throughput.configuration(text)
