"""Updates per second through Flower's simulation engine against the in-process transport.

Run from the repository root::

    .venv/bin/python -m bench.flower_throughput --out bench/results/flower_throughput.json [--quick]

For each population size N the synthetic population's run folder is set up once and copied
for every row (every cohort k and transport), so all rows run the same devices and settings
(`RunSettings`' defaults: 3 local epochs, epsilon 8, the held-out evaluation every round;
fixed-size sampling so every round has exactly k devices):

- ``in-process``: `server.federated_run` over `simulation.in_process_transport` (the
  devices' real round code called in the server's process; no Flower, no Ray);
- ``flower-plain``: `fedpersona simulate --no-secure-aggregation` (`simulation.simulate`:
  Flower's simulation engine, one Ray actor with both cores);
- ``flower-secagg``: `fedpersona simulate` with SecAgg+ (four message exchanges a round).

Each row runs in a fresh process. Seconds per round are the server's own per-round wall
times (the metrics store's ``wall_seconds``: sending, the devices' work, aggregation,
checkpoint, held-out evaluation, accounting), median of rounds 2..R (round 1 includes
Ray's worker start-up and first imports). Peak memory is VmHWM of each process of the
row's process tree (the benchmark process itself, which is the server and Ray's driver;
Ray's workers; Ray's own daemons), sampled every 0.5 s. ``phase_seconds``: where the round
went (bench.round_phases: the transport's round, the server's rest, SecAgg+'s stages).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.reporting import positive_int, run_and_report, table, write_report
from bench.round_phases import phase_medians, timed_phases
from server.run_settings import RunSettings

DEFAULT_OUT = Path("bench/results/flower_throughput.json")
TRANSPORTS = ("in-process", "flower-plain", "flower-secagg")
SAMPLE_SECONDS = 0.5


def row_settings(devices: int, per_round: int, rounds: int, transport: str) -> RunSettings:
    return RunSettings(
        population="synthetic",
        clients=devices,
        rounds=rounds,
        clients_per_round=per_round,
        sampling="fixed_size",
        secure_aggregation=transport == "flower-secagg",
        secure_noise=False,  # seeded: the rows' device samples and noise are the same
    )


def set_up(devices: int, per_round: int, rounds: int, folder: Path) -> float:
    """The run folder every row of this configuration copies; returns its set-up seconds."""
    from simulation.populations import load_population
    from simulation.run_workspace import prepare_workspace

    started = time.perf_counter()
    settings = row_settings(devices, per_round, rounds, "in-process")
    prepare_workspace(folder, settings, load_population("synthetic", devices, seed=0))
    return time.perf_counter() - started


@dataclass
class TreeMemory:
    """Peak resident memory (VmHWM, MB) of every process under this one, by role."""

    peaks: dict[int, tuple[str, float]]

    def sample(self) -> None:
        for pid in [*_descendants(os.getpid()), os.getpid()]:
            peak = _vm_hwm_mb(pid)
            if peak is not None:
                self.peaks[pid] = (_role(pid), max(peak, self.peaks.get(pid, ("", 0.0))[1]))

    def by_role(self) -> dict[str, float]:
        roles: dict[str, float] = {"server": 0.0, "ray_workers": 0.0, "ray_daemons": 0.0}
        for role, peak in self.peaks.values():
            roles[role] += peak
        return roles


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _vm_hwm_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _role(pid: int) -> str:
    if pid == os.getpid():
        return "server"
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except OSError:
        return "ray_daemons"
    # Ray names its worker processes after the task or actor they run ("ray::...").
    return "ray_workers" if command.startswith("ray::") else "ray_daemons"


def measure_row(transport: str, folder: Path) -> dict[str, Any]:
    """One row in this (fresh) process: run the folder's settings over ``transport``."""
    logging.getLogger("absl").setLevel(logging.ERROR)
    settings = RunSettings.load(folder / "settings.json")
    memory = TreeMemory({})
    done = threading.Event()

    def poll() -> None:
        while not done.wait(SAMPLE_SECONDS):
            memory.sample()

    sampler = threading.Thread(target=poll, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        with timed_phases(flower=transport != "in-process") as phases:
            walls = _run(transport, settings, folder)
    finally:
        done.set()
        sampler.join()
        memory.sample()
    timed = walls[1:] or walls
    seconds = statistics.median(timed)
    return {
        "transport": transport,
        "devices": settings.clients,
        "per_round": settings.clients_per_round,
        "rounds": len(walls),
        "round_seconds": [round(w, 3) for w in walls],
        "median_round_seconds": seconds,
        "updates_per_s": settings.clients_per_round / seconds,
        "first_round_seconds": walls[0],
        "run_seconds": time.perf_counter() - started,
        "peak_mb": {k: round(v) for k, v in memory.by_role().items()},
        "phase_seconds": phase_medians(phases, walls),
        "processes": len(memory.peaks),
    }


def _run(transport: str, settings: RunSettings, folder: Path) -> list[float]:
    from server.metrics_store import MetricsStore

    if transport == "in-process":
        _in_process(settings, folder)
    else:
        from simulation.simulate import simulate

        simulate(settings, folder, say=lambda _: None)
    store = MetricsStore(folder / "metrics.sqlite")
    try:
        return [float(row["wall_seconds"]) for row in store.rounds()]
    finally:
        store.close()


def _in_process(settings: RunSettings, folder: Path) -> None:
    """The same server loop and held-out evaluation as simulation.server_app, in-process."""
    import numpy as np

    from models.reranking_head import EMBEDDING_DIM
    from privacy.noise import SeededGaussian
    from server.federated_run import run_federation
    from simulation.held_out import HeldOutUsers, load_examples
    from simulation.in_process_transport import InProcessTransport
    from simulation.run_workspace import Workspace

    workspace = Workspace.load(folder)
    noise = SeededGaussian(np.random.default_rng(settings.seed))
    held_out = HeldOutUsers.of(
        load_examples(workspace.unseen_path),
        workspace.devices.embed_function(),
        dimension=EMBEDDING_DIM,
    )
    run_federation(
        settings,
        workspace,
        InProcessTransport(workspace, settings.clients, noise),
        noise=noise,
        rng=random.Random(settings.seed),
        say=lambda _: None,
        evaluate=held_out,
    )


def row_in_subprocess(transport: str, base: Path, folder: Path, settings: RunSettings) -> Any:
    """Copy the set-up folder, give it this row's settings, measure it in a new process."""
    shutil.copytree(base, folder)
    settings.save(folder / "settings.json")
    out = folder / "row.json"
    subprocess.run(
        [sys.executable, "-m", "bench.flower_throughput", "--row", transport, str(folder)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "FLOWER_THROUGHPUT_ROW_OUT": str(out)},
    )
    return json.loads(out.read_text())


def produce(
    configurations: Sequence[tuple[int, int]],
    rounds: int,
    transports: Sequence[str],
    out: Path,
) -> Callable[[Callable[[str], None]], dict[str, Any]]:
    """Every transport on every configuration; the report is rewritten after each row, so a
    long run that is stopped keeps the rows it finished (``"complete": false``)."""

    def run(say: Callable[[str], None]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "rows": [],
            "set_up": [],
            "config": {"rounds": rounds, "timed_rounds": "2..R, median", "sampling": "fixed_size"},
        }
        with tempfile.TemporaryDirectory() as scratch:
            for devices, per_round in configurations:
                # One set-up per population size: the stores and embeddings do not depend on
                # the cohort (each row saves its own settings into its copy).
                base = Path(scratch) / str(devices)
                if not base.exists():
                    say(f"setting up {devices} devices ...")
                    seconds = set_up(devices, per_round, rounds, base)
                    result["set_up"].append(
                        {"devices": devices, "set_up_seconds": round(seconds, 1)}
                    )
                for transport in transports:
                    say(f"{devices} devices, {per_round} a round, {transport} ...")
                    settings = row_settings(devices, per_round, rounds, transport)
                    folder = base.with_name(f"{devices}-{per_round}-{transport}")
                    row = row_in_subprocess(transport, base, folder, settings)
                    shutil.rmtree(folder)
                    result["rows"].append(row)
                    write_report({**result, "complete": False}, out)
                    rate = row["updates_per_s"]
                    say(f"  {row['median_round_seconds']:.2f} s/round, {rate:.1f} updates/s")
        return {**result, "complete": True}

    return run


def show(result: dict[str, Any]) -> None:
    baseline = {
        (r["devices"], r["per_round"]): r["updates_per_s"]
        for r in result["rows"]
        if r["transport"] == "in-process"
    }
    lines = table(
        (
            "transport",
            "devices",
            "a round",
            "s/round",
            "updates/s",
            "x in-process",
            "server MB",
            "workers MB",
            "daemons MB",
        ),
        [
            (
                r["transport"],
                str(r["devices"]),
                str(r["per_round"]),
                f"{r['median_round_seconds']:.2f}",
                f"{r['updates_per_s']:.1f}",
                _ratio(r["updates_per_s"], baseline.get((r["devices"], r["per_round"]))),
                str(r["peak_mb"]["server"]),
                str(r["peak_mb"]["ray_workers"]),
                str(r["peak_mb"]["ray_daemons"]),
            )
            for r in result["rows"]
        ],
    )
    print("\n".join(lines))
    for s in result["set_up"]:
        print(f"set-up of {s['devices']} devices: {s['set_up_seconds']:.0f} s")


def _ratio(rate: float, baseline: float | None) -> str:
    return "-" if baseline is None else f"{rate / baseline:.2f}"


def configuration(text: str) -> tuple[int, int]:
    """``N:k``: N devices, k of them a round."""
    devices, _, per_round = text.partition(":")
    try:
        pair = positive_int(devices), positive_int(per_round)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected N:k, got {text!r}") from error
    if pair[1] > pair[0]:
        raise argparse.ArgumentTypeError(f"{text}: more devices a round than devices")
    return pair


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="100:20 only, 4 rounds")
    parser.add_argument(
        "--configurations",
        type=configuration,
        nargs="+",
        default=None,
        help="N:k pairs (default 100:20 1000:100)",
    )
    parser.add_argument("--rounds", type=positive_int, default=None, help="default 5")
    parser.add_argument("--transports", nargs="+", choices=TRANSPORTS, default=list(TRANSPORTS))
    parser.add_argument("--row", nargs=2, metavar=("TRANSPORT", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.row:
        result = measure_row(args.row[0], Path(args.row[1]))
        Path(os.environ["FLOWER_THROUGHPUT_ROW_OUT"]).write_text(json.dumps(result))
        return 0
    configurations = args.configurations or (
        [(100, 20)] if args.quick else [(100, 20), (1000, 100)]
    )
    rounds = args.rounds or (4 if args.quick else 5)
    return run_and_report(
        produce(configurations, rounds, args.transports, args.out), show, args.out
    )


if __name__ == "__main__":
    sys.exit(main())
