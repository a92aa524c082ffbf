"""Server momentum (DP-FedAvgM): the server's step is a decaying sum of its past steps.

Each round's noised mean update carries fresh, independent noise, while the devices'
direction changes slowly; adding beta times the previous step averages the noise over
about 1 / (1 - beta) rounds and lets the signal add up (heavy-ball momentum on the server,
Hsu, Qi and Brown 2019, "Measuring the effects of non-identical data distribution", and
McMahan et al. 2018, "Learning differentially private recurrent language models", who
use it under user-level DP). It only post-processes what the Gaussian mechanism already
released, so it spends no privacy.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]


def momentum_step(
    current: Vector, aggregated: Vector, velocity: Vector | None, beta: float
) -> tuple[Vector, Vector]:
    """The next weights and velocity, given the round's plain DP-FedAvg result ``aggregated``.

    The velocity is the step the server last took. The caller skips a round that released
    nothing, so that such a round leaves the head exactly as it was, momentum or not.
    """
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
