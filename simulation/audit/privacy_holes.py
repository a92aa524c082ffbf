"""The attacks that found the privacy holes of issue 10, as checks the audit runs.

Each attack uses only what the server legitimately receives; each must fail now:

* ``secure-sums-hide-device-values``: a curious server records which devices each
  SecAgg+ round sampled and the sum it unmasked, and solves by least squares for each
  device's 'evaluated' statistic. Without noise that recovers every value exactly (the
  tests show it); under a budget the noise must leave the estimate no better than noise.
* ``unsafe-delta-refused``: a delta at or above 1/N (which would allow releasing one user
  outright) is refused for every sampling.

The third attack of that issue (a server killed mid-round must never leave a released sum
outside the ledger, ``simulation.audit.kill_resume``) starts four server processes; it runs
in the full audit only (``full=True``), too slow for ``--quick``.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from privacy.device_release import STATISTICS, STATISTICS_SHARE, statistic_noise_std
from privacy.noise import SeededGaussian
from privacy.secure_aggregation import SecureSum
from protocol.round_instructions import RoundInstructions
from server.federated_run import run_federation
from server.run_settings import RunSettings
from simulation.audit.kill_resume import check_released_sums_in_ledger
from simulation.audit.report import CheckResult
from simulation.in_process_transport import InProcessTransport
from simulation.populations import synthetic_population
from simulation.run_workspace import prepare_workspace

CLIENTS, PER_ROUND, ROUNDS = 8, 4, 12
EVALUATED = STATISTICS.index("evaluated")
Matrix = npt.NDArray[np.float64]


class SumRecorder:
    """The curious server: logs each round's sampled devices and the sum it unmasked."""

    def __init__(self, transport: InProcessTransport) -> None:
        self._transport = transport
        self.rounds: list[tuple[list[int], npt.NDArray[np.float64]]] = []

    def node_ids(self) -> list[int]:
        return self._transport.node_ids()

    def train(
        self,
        nodes: Sequence[int],
        weights: list[npt.NDArray[np.float32]],
        instructions: RoundInstructions,
    ) -> SecureSum:
        replies = self._transport.train(nodes, weights, instructions)
        if not isinstance(replies, SecureSum):
            raise TypeError("the attack needs a secure-aggregation transport")
        self.rounds.append((list(nodes), replies.payload_sum.copy()))
        return replies


def attack_settings(epsilon: float) -> RunSettings:
    """A small SecAgg+ run whose rounds sample enough subsets to solve for every device."""
    return RunSettings(
        population="synthetic",
        clients=CLIENTS,
        rounds=ROUNDS,
        clients_per_round=PER_ROUND,
        sampling="fixed_size",
        epsilon=epsilon,
        local_epochs=1,
        secure_aggregation=True,
        dropout_tolerance=0.0,
        secure_noise=False,
    )


def recorded_run(root: Path, settings: RunSettings) -> tuple[SumRecorder, float]:
    """Run the real round loop behind the recorder; (recorder, the run's noise multiplier)."""
    population = synthetic_population(CLIENTS, seed=0)
    workspace = prepare_workspace(root, settings, population)
    recorder = SumRecorder(
        InProcessTransport(
            workspace, CLIENTS, SeededGaussian(np.random.default_rng(1)), secure_sum=True
        )
    )
    outcome = run_federation(
        settings,
        workspace,
        recorder,
        noise=SeededGaussian(np.random.default_rng(0)),
        rng=random.Random(0),
        say=lambda _: None,
    )
    return recorder, outcome.noise_multiplier


def membership(recorder: SumRecorder) -> Matrix:
    """Rounds x devices: 1 where the device was in the round's sum."""
    rows = np.zeros((len(recorder.rounds), CLIENTS))
    for row, (nodes, _) in enumerate(recorder.rounds):
        rows[row, nodes] = 1.0
    return rows


def solve_per_device(recorder: SumRecorder, settings: RunSettings) -> npt.NDArray[np.float64]:
    """Least squares over rounds: each device's 'evaluated' statistic, from sums alone."""
    scale = statistic_noise_std(1.0, settings.clipping_norm)  # 1 / s
    observed = np.array(
        [total[-len(STATISTICS) + EVALUATED] * scale for _, total in recorder.rounds]
    )
    rows = membership(recorder)
    if np.linalg.matrix_rank(rows) != CLIENTS:
        raise ValueError("the rounds do not determine every device: the attack cannot run")
    solution, *_ = np.linalg.lstsq(rows, observed, rcond=None)
    return np.asarray(solution, np.float64)


def evaluated_truth() -> npt.NDArray[np.float64]:
    """What each device's 'evaluated' statistic really is: 1 when it holds later turns."""
    clients = synthetic_population(CLIENTS, seed=0).clients
    return np.array([1.0 if client.evaluation else 0.0 for client in clients])


def predicted_error(recorder: SumRecorder, noise_multiplier: float) -> npt.NDArray[np.float64]:
    """The least-squares error the noise alone predicts for each device:
    sigma * sqrt(diag((A^T A)^-1)), sigma the noise on one statistic's sum in its units."""
    sigma = noise_multiplier * math.sqrt(len(STATISTICS) / STATISTICS_SHARE)
    rows = membership(recorder)
    return np.asarray(sigma * np.sqrt(np.diag(np.linalg.inv(rows.T @ rows))), np.float64)


def check_sums_hide_device_values(root: Path) -> CheckResult:
    """Under a budget, the least-squares attack must do no better than the noise."""
    settings = attack_settings(8.0)
    recorder, z = recorded_run(root, settings)
    error = float(np.sqrt(np.mean((solve_per_device(recorder, settings) - evaluated_truth()) ** 2)))
    predicted = predicted_error(recorder, z)
    passed = bool(predicted.min() > 1.0 and error > 0.5 * predicted.mean())
    detail = (
        f"least-squares error {error:.2f} per device on values in [0, 1] "
        f"(noise alone predicts {predicted.mean():.2f})"
    )
    return CheckResult("secure-sums-hide-device-values", passed, detail)


def check_unsafe_delta_refused() -> CheckResult:
    """A delta >= 1/N must be refused before anything runs, for every sampling."""
    refused = []
    for sampling in ("poisson", "fixed_size"):
        try:
            RunSettings(clients=20, clients_per_round=3, sampling=sampling, delta=0.9)
        except ValueError:
            refused.append(sampling)
    passed = len(refused) == 2
    return CheckResult(
        "unsafe-delta-refused", passed, f"delta 0.9 with 20 clients refused for {refused}"
    )


def run_checks(*, full: bool) -> list[CheckResult]:
    """The privacy-holes suite (``full``: also the SIGKILL-and-resume attack)."""
    with tempfile.TemporaryDirectory(prefix="fedpersona-audit-") as folder:
        checks = [check_unsafe_delta_refused(), check_sums_hide_device_values(Path(folder) / "run")]
    if full:
        checks.append(check_released_sums_in_ledger())
    return checks
