"""What the server does with a round's released mean beyond DP-FedAvg's plain step.

Two optional post-processing steps; both use only what the Gaussian mechanism already
released, so neither spends privacy:

- Server momentum (DP-FedAvgM): the step adds beta times the previous step (heavy-ball
  momentum on the server: Hsu, Qi and Brown 2019; McMahan et al. 2018 use it under
  user-level DP). Noise is fresh each round while the devices' direction changes slowly.
- Head averaging: the run publishes an exponential moving average of the rounds' heads
  instead of the last one, while training goes on from the last one. Each round's head
  carries that round's noise; averaging the last few cancels part of it (iterate
  averaging, Polyak and Juditsky 1992; used for DP training by De et al. 2022,
  "Unlocking high-accuracy differentially private image classification through scale").

A round that released nothing changes neither: the head stays exactly as it was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
MOMENTUM = "server_momentum"  # checkpoint state: the server's last step
TRAINING_HEAD = "training_head"  # checkpoint state: the head training continues from


def momentum_step(
    current: Vector, aggregated: Vector, velocity: Vector | None, beta: float
) -> tuple[Vector, Vector]:
    """The next weights and velocity, given the round's plain DP-FedAvg result ``aggregated``
    (the velocity is the step the server last took)."""
    if not 0 <= beta < 1:
        raise ValueError(f"momentum beta must be in [0, 1), got {beta}")
    step = aggregated - current
    if velocity is not None:
        if velocity.shape != current.shape:
            raise ValueError(
                f"the saved momentum has {velocity.size} values; the head has {current.size}"
            )
        step = step + beta * velocity
    return current + step, step


def averaged(average: Vector | None, head: Vector, beta: float) -> Vector:
    """The moving average after ``head`` (the first head starts it)."""
    if not 0 <= beta < 1:
        raise ValueError(f"averaging beta must be in [0, 1), got {beta}")
    if average is None:
        return head.copy()
    if average.shape != head.shape:
        raise ValueError(f"the saved average has {average.size} values; the head has {head.size}")
    return beta * average + (1 - beta) * head


@dataclass
class ServerSteps:
    """The server's state between rounds: the last step (momentum) and the published
    average (head averaging); both 0 is plain DP-FedAvg."""

    momentum: float = 0.0
    averaging: float = 0.0
    velocity: Vector | None = None
    average: Vector | None = None

    def step(self, current: Vector, aggregated: Vector) -> Vector:
        """The head training continues from, after a round that released ``aggregated``."""
        weights = aggregated
        if self.momentum:
            weights, self.velocity = momentum_step(
                current, aggregated, self.velocity, self.momentum
            )
        if self.averaging:
            self.average = averaged(self.average, weights, self.averaging)
        return weights

    def published(self, training_head: Vector) -> Vector:
        """The head the run publishes (evaluated, saved as the run's head)."""
        return training_head if self.average is None else self.average

    def state(self, training_head: Vector) -> dict[str, Vector]:
        """What a checkpoint must carry beside the published head to resume exactly."""
        saved: dict[str, Vector] = {}
        if self.velocity is not None:
            saved[MOMENTUM] = self.velocity
        if self.average is not None:
            saved[TRAINING_HEAD] = training_head
        return saved

    def restore(self, published: Vector, saved: dict[str, Vector]) -> Vector:
        """Resume from a checkpoint: the head training continues from."""
        if MOMENTUM in saved:
            self.velocity = np.asarray(saved[MOMENTUM], dtype=np.float64)
        if TRAINING_HEAD not in saved:
            return published
        self.average = published
        return np.asarray(saved[TRAINING_HEAD], dtype=np.float64)
