"""One audited federated run: real device releases, real DP-FedAvg aggregation, a canary.

Each trial runs ``rounds`` rounds of the production round code on synthetic devices:
every device's release is built by ``privacy.device_release.release`` (what
``client.federated_round.run_round`` sends), under secure aggregation each device adds the
noise share the server's ``DpFedAvg.instructions`` assigns, and the server aggregates with
``DpFedAvg.aggregate`` (``aggregate_round`` for plain rounds, which re-bounds every release;
``aggregate_secure_sum`` under SecAgg+). The canary device takes part in every round of a
trial or in none; its update is ``CANARY_NORM_FACTOR * C`` along a secret unit direction u.

The attacker sees what the server sees, the head after the last round (the per-round heads
add nothing here: the other devices' updates do not depend on the head), and is granted
everything else: the other devices' releases (minus their noise shares). Its score is the
projection of the unexplained change of the head on u. This is the strongest attacker
user-level DP allows, so the bound it yields is as high as this canary can push it.

Breaks (``Break``) are audit-only: they change how this module wires the real functions,
never a production setting. ``no-noise``: the aggregate carries no noise; ``wrong-scale``:
the noise is sized for a clipping norm of C / 10; ``no-clipping``: the canary device skips
clipping (its raw update goes out), which the server's re-clip undoes in plain rounds, so
it only breaks privacy under secure aggregation, where the server cannot see one release.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.reranking_head import HeadConfig
from privacy.device_release import STATISTICS, release
from privacy.noise import GaussianNoise
from privacy.secure_aggregation import SecureSum
from protocol.round_instructions import RoundInstructions
from server.dp_fedavg import ClientReport, DpFedAvg, LocalTraining
from simulation.audit.breaks import BREAKS, Break

Vector = npt.NDArray[np.float64]
CANARY_NORM_FACTOR = 10.0  # the canary's raw update is 10 C: always clipped, when clipping runs
WRONG_SCALE_FACTOR = 10.0  # "wrong-scale" noise is sized for C / 10


@dataclass(frozen=True, kw_only=True)
class Mechanism:
    """The audited run: its devices, its privacy settings and what is broken (if anything)."""

    noise_multiplier: float
    clipping_norm: float
    rounds: int
    other_devices: int
    update_size: int
    secure_aggregation: bool
    broken: Break | None = None

    def __post_init__(self) -> None:
        if self.broken is not None and self.broken not in BREAKS:
            raise ValueError(f"unknown break {self.broken!r}; use one of {BREAKS}")
        if self.rounds < 1 or self.other_devices < 2 or self.update_size < 2:
            raise ValueError(
                f"need rounds >= 1, other_devices >= 2, update_size >= 2; got {self.rounds}, "
                f"{self.other_devices}, {self.update_size}"
            )

    def strategy(self) -> DpFedAvg:
        """The server's DP-FedAvg for this run, with the broken noise where asked."""
        z = self.noise_multiplier
        if self.broken == "no-noise":
            z = 0.0
        elif self.broken == "wrong-scale":
            z = z / WRONG_SCALE_FACTOR  # std z * (C / 10): the same arithmetic
        return DpFedAvg(
            noise_multiplier=z,
            clipping_norm=self.clipping_norm,
            denominator=float(self.other_devices + 1),
            secure_aggregation=self.secure_aggregation,
            dropout_tolerance=0.0,  # shares sized for exactly the devices that send
        )


def canary_direction(size: int, rng: np.random.Generator) -> Vector:
    """A secret random unit vector of shape (size,)."""
    direction = rng.normal(size=size)
    return direction / np.linalg.norm(direction)


def other_release(mechanism: Mechanism, rng: np.random.Generator) -> Vector:
    """An ordinary device: a random update (about C in norm) and random statistics."""
    scale = mechanism.clipping_norm / np.sqrt(mechanism.update_size)
    change = rng.normal(0.0, scale, mechanism.update_size)
    evaluated = int(rng.integers(0, 5))
    return release(
        change,
        mechanism.clipping_norm,
        train_loss=float(rng.uniform(0.5, 4.0)),
        hits=float(rng.integers(0, evaluated + 1)),
        evaluated=evaluated,
    ).payload


def canary_release(mechanism: Mechanism, direction: Vector) -> Vector:
    """The canary: nothing trained or evaluated, an update of 10 C along ``direction``."""
    change = CANARY_NORM_FACTOR * mechanism.clipping_norm * direction
    if mechanism.broken == "no-clipping":  # the device sends its raw update
        return np.concatenate([change, np.zeros(len(STATISTICS))])
    nan = float("nan")  # nothing trained, nothing evaluated: every statistic is 0
    return release(change, mechanism.clipping_norm, train_loss=nan, hits=0.0, evaluated=0).payload


def run_trial(
    mechanism: Mechanism,
    direction: Vector,
    *,
    canary_in: bool,
    rng: np.random.Generator,
    noise: GaussianNoise,
) -> float:
    """One audited run; returns the attacker's score (higher: "the canary took part")."""
    strategy = mechanism.strategy()
    head = HeadConfig()  # only travels in the instructions; the update is synthetic
    start = np.zeros(mechanism.update_size)
    weights, explained = start, np.zeros(mechanism.update_size)
    for round_number in range(1, mechanism.rounds + 1):
        others = [other_release(mechanism, rng) for _ in range(mechanism.other_devices)]
        payloads = others + ([canary_release(mechanism, direction)] if canary_in else [])
        instructions = strategy.instructions(
            round_number, len(payloads), head=head, local=LocalTraining(1, 0.01)
        )
        replies = transport(payloads, instructions, noise, secure=mechanism.secure_aggregation)
        weights = strategy.aggregate(weights, replies, instructions, noise).weights
        explained += sum(p[: mechanism.update_size] for p in others)
    # What the head's change says beyond the other devices' releases, as a sum of updates.
    unexplained = (weights - start) * strategy.denominator / strategy.server_learning_rate
    return float((unexplained - explained) @ direction)


def transport(
    payloads: list[Vector], instructions: RoundInstructions, noise: GaussianNoise, *, secure: bool
) -> list[ClientReport] | SecureSum:
    """What reaches the server: each release (plain), or the sum of the noised releases."""
    if not secure:
        return [ClientReport(p) for p in payloads]
    # Each device adds its share (client.federated_round.run_round); the server sees the sum.
    noised = [p + noise.sample(p.size, instructions.noise_share_std) for p in payloads]
    return SecureSum(np.sum(noised, axis=0), len(noised), len(noised))
