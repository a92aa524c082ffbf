"""A released sum must never be missing from the ledger, however the server dies.

Run as ``python -m simulation.audit.kill_resume ROOT POINT ROUND MODE``: a 3-round federated
run (10 devices, 5 a round, MODE ``secure`` or ``plain``) whose server process kills itself
with SIGKILL at POINT of round ROUND (``before-release``, ``after-release``,
``after-aggregate``, ``after-checkpoint``; ``none`` runs to the end). Every round whose
devices released anything is logged, fsynced, to ``released.log`` first. A killed run is
then resumed; the ledger must have charged every round that was released.

``check_released_sums_in_ledger`` does that for the worst point (after the devices released,
before the server recorded anything) in both modes; each run is a fresh Python process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

import server.federated_run as loop
from models.reply_training import released_size
from privacy.device_release import payload_size
from privacy.noise import SeededGaussian
from privacy.secure_aggregation import SecureSum
from protocol.round_instructions import RoundInstructions
from server.dp_fedavg import ClientReport
from server.metrics_store import MetricsStore, RoundRow
from server.run_folder import RunFolder
from server.run_settings import RunSettings
from simulation.audit.report import CheckResult

POINTS = ("before-release", "after-release", "after-aggregate", "after-checkpoint")
ROUNDS = 3


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class _Transport:
    """Devices that release random payloads, logging each released round durably first."""

    def __init__(self, root: Path, point: str, kill_round: int, secure: bool) -> None:
        self._root, self._point, self._kill, self._secure = root, point, kill_round, secure

    def node_ids(self) -> list[int]:
        return list(range(10))

    def train(
        self,
        nodes: Sequence[int],
        weights: list[npt.NDArray[np.float32]],
        instructions: RoundInstructions,
    ) -> list[ClientReport] | SecureSum:
        r = instructions.round
        if self._point == "before-release" and r == self._kill:
            _die()
        size = payload_size(released_size(instructions.head))
        payloads = np.random.default_rng(r).normal(0, 0.01, (len(nodes), size))
        with open(self._root / "released.log", "a", encoding="utf-8") as log:
            log.write(f"{r}\n")
            log.flush()
            os.fsync(log.fileno())
        if self._point == "after-release" and r == self._kill:
            _die()
        if self._secure:
            return SecureSum(payloads.sum(axis=0), len(nodes), len(nodes))
        return [ClientReport(p) for p in payloads]


def _kill_later(point: str, kill_round: int) -> None:
    """Patch the round loop so the process dies at ``point`` of ``kill_round``."""
    if point == "after-aggregate":
        # The loop calls the name it imported; patch that name in the loop's module.
        save: Callable[..., None] = getattr(loop, "save_checkpoint")  # noqa: B009

        def save_or_die(path: Path, model: Any, **saved: Any) -> None:
            extra = saved.get("extra")
            if extra and extra["rounds"] == kill_round:
                _die()
            save(path, model, **saved)

        setattr(loop, "save_checkpoint", save_or_die)  # noqa: B010
    if point == "after-checkpoint":
        append = MetricsStore.append_round

        def append_or_die(self: MetricsStore, row: RoundRow) -> None:
            if row.round == kill_round:
                _die()
            append(self, row)

        MetricsStore.append_round = append_or_die  # type: ignore[method-assign]


def serve(root: Path, point: str, kill_round: int, mode: str) -> None:
    """One server process of the experiment (it may never return: SIGKILL)."""
    _kill_later(point, kill_round)
    settings = RunSettings(
        clients=10,
        rounds=ROUNDS,
        clients_per_round=5,
        sampling="fixed_size",
        epsilon=8.0,
        secure_aggregation=mode == "secure",
        secure_noise=False,
    )
    loop.run_federation(
        settings,
        RunFolder(root),
        _Transport(root, point, kill_round, mode == "secure"),
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=lambda _: None,
    )


def server_process(root: Path, point: str, kill_round: int, mode: str) -> int:
    """Run ``serve`` in a fresh process; its return code (-9: killed as planned)."""
    done = subprocess.run(
        [sys.executable, "-m", __name__, str(root), point, str(kill_round), mode],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"the server process failed: {done.stderr[-2000:]}")
    return done.returncode


def released_and_charged(root: Path) -> tuple[list[str], int]:
    """(rounds the devices released, rounds the ledger charged) after a run in ``root``."""
    released = (root / "released.log").read_text(encoding="utf-8").split()
    ledger = json.loads((root / "ledger.json").read_text(encoding="utf-8"))
    return released, sum(count for _, count in ledger["rounds"])


def check_released_sums_in_ledger() -> CheckResult:
    """Kill each mode's server after round 2's release, resume, compare log and ledger."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="fedpersona-audit-kill-") as folder:
        for mode in ("secure", "plain"):
            root = Path(folder) / mode
            root.mkdir()
            killed = server_process(root, "after-release", 2, mode)
            resumed = server_process(root, "none", 0, mode)
            released, charged = released_and_charged(root)
            if killed != -signal.SIGKILL or resumed != 0 or len(released) > charged:
                problems.append(f"{mode}: released {released}, charged {charged}")
    detail = "; ".join(problems) or "every released round charged after SIGKILL and resume"
    return CheckResult("released-sums-in-ledger", not problems, detail)


if __name__ == "__main__":
    serve(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4])
