"""What secure aggregation costs: SecAgg+ rounds against plain rounds, same Flower simulation.

Run from the repository root::

    .venv/bin/python -m bench.secure_aggregation --out bench/results/secure_aggregation.json

For each cohort size k, two `fedpersona simulate` runs on synthetic devices (k devices,
all of them sampled each round, fixed-size sampling, epsilon 8, one local epoch): one with
plain rounds (the baseline: each device sends its clipped update, the server adds the
noise) and one with SecAgg+ (masked vectors, noise shares, four message exchanges a
round). Both go through Flower's simulation runtime on this machine, so the ratio isolates
the protocol: key agreement, secret sharing, masking and unmasking. The first round of
each run (Ray worker start-up) is left out of the median.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.reporting import positive_int, run_and_report, table
from server.run_settings import RunSettings

DEFAULT_OUT = Path("bench/results/secure_aggregation.json")


def round_seconds(devices: int, rounds: int, *, secure: bool, folder: Path) -> dict[str, Any]:
    from simulation.simulate import simulate  # Flower and Ray load only when measuring

    settings = RunSettings(
        population="synthetic",
        clients=devices,
        rounds=rounds,
        clients_per_round=devices,
        sampling="fixed_size",
        epsilon=8.0,
        local_epochs=1,
        secure_aggregation=secure,
        secure_noise=False,
    )
    summary = simulate(settings, folder, say=lambda _: None)
    walls = [row.wall_seconds for row in summary.rounds][1:]
    return {
        "devices": devices,
        "mode": "secagg+" if secure else "plain",
        "rounds_timed": len(walls),
        "median_round_seconds": statistics.median(walls),
        "completed": [row.clients_completed for row in summary.rounds],
    }


def produce(
    cohorts: Sequence[int], rounds: int
) -> Callable[[Callable[[str], None]], dict[str, Any]]:
    def run(say: Callable[[str], None]) -> dict[str, Any]:
        logging.getLogger("absl").setLevel(logging.ERROR)
        rows = []
        with tempfile.TemporaryDirectory() as folder:
            for devices in cohorts:
                pair = {}
                for secure in (False, True):
                    say(f"{devices} devices, {'secagg+' if secure else 'plain'} ...")
                    run_folder = Path(folder) / f"{devices}-{secure}"
                    pair[secure] = round_seconds(devices, rounds, secure=secure, folder=run_folder)
                ratio = pair[True]["median_round_seconds"] / pair[False]["median_round_seconds"]
                rows += [pair[False], {**pair[True], "ratio_to_plain": ratio}]
        return {"rows": rows, "config": {"rounds": rounds, "baseline": "plain rounds"}}

    return run


def show(result: dict[str, Any]) -> None:
    lines = table(
        ("devices", "mode", "median s/round", "x plain"),
        [
            (
                str(r["devices"]),
                r["mode"],
                f"{r['median_round_seconds']:.2f}",
                f"{r['ratio_to_plain']:.2f}" if "ratio_to_plain" in r else "1.00",
            )
            for r in result["rows"]
        ],
    )
    print("\n".join(lines))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cohorts", type=positive_int, nargs="+", default=[10, 30, 60])
    parser.add_argument("--rounds", type=positive_int, default=4)
    args = parser.parse_args(argv)
    return run_and_report(produce(args.cohorts, args.rounds), show, args.out)


if __name__ == "__main__":
    sys.exit(main())
