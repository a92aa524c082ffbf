"""Quantile-based adaptive clipping for DP-FedAvg.

Andrew, Thakkar, McMahan, Ramaswamy 2021, "Differentially Private Learning with Adaptive
Clipping" (NeurIPS), Algorithm 1: instead of fixing the clipping norm C, track the
``target_quantile`` gamma of the clients' update norms. Each round:

1. client i reports ``b_i = 1[||Delta_i|| <= C]`` (with secure aggregation only the sum is
   seen);
2. the server estimates the fraction below C privately:
   ``b~ = (sum_i b_i + N(0, sigma_b^2)) / m`` with m the expected clients per round;
3. geometric update: ``C <- C * exp(-eta * (b~ - gamma))``, which shrinks C when more than
   gamma of the clients are below it and grows it otherwise.

Privacy: the round releases two Gaussian sums, the model update with noise multiplier z_Delta
and the count with std sigma_b (count sensitivity 1/2 after centring b_i - 1/2). Together
they are one Gaussian mechanism with noise multiplier z where
``z^-2 = z_Delta^-2 + (2 sigma_b)^-2``, so for a budgeted z the model update gets
``z_Delta = (z^-2 - (2 sigma_b)^-2)^(-1/2)`` (Andrew et al. 2021, the privacy analysis of
Alg. 1). The ledger records z (the whole round); the update noise uses z_Delta. The paper's
experiments use sigma_b = m / 20.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privacy.clipping import check_clipping_norm
from privacy.noise import GaussianNoise


@dataclass(frozen=True, kw_only=True)
class AdaptiveClippingConfig:
    """Settings of quantile-based adaptive clipping (Andrew et al. 2021, Alg. 1).

    Attributes:
        count_noise_std: sigma_b, std of the Gaussian noise on the count of clients below C
            (in clients; must be > 0, the count is released too). Paper's experiments:
            expected clients / 20.
        target_quantile: gamma in (0, 1), the quantile of update norms C tracks (paper: 0.5).
        learning_rate: eta_C > 0 of the geometric update (paper: 0.2).
        initial_clipping_norm: C_0 > 0 (paper: 0.1).
    """

    count_noise_std: float
    target_quantile: float = 0.5
    learning_rate: float = 0.2
    initial_clipping_norm: float = 0.1

    def __post_init__(self) -> None:
        if not math.isfinite(self.count_noise_std) or self.count_noise_std <= 0.0:
            raise ValueError(
                f"count_noise_std should be positive and finite, got {self.count_noise_std!r}."
            )
        if not 0.0 < self.target_quantile < 1.0:
            raise ValueError(f"target_quantile should be in (0, 1), got {self.target_quantile!r}.")
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0.0:
            raise ValueError(f"learning_rate should be positive, got {self.learning_rate!r}.")
        check_clipping_norm(self.initial_clipping_norm)


def update_noise_multiplier(noise_multiplier: float, count_noise_std: float) -> float:
    """z_Delta = (z^-2 - (2 sigma_b)^-2)^(-1/2): the model update's share of the round's z.

    Andrew et al. 2021 (privacy analysis of Alg. 1). Defined only when z < 2 sigma_b
    (otherwise the count alone would spend the whole budget); raises ``ValueError`` naming
    both values when it is not.
    """
    z = float(noise_multiplier)
    if not math.isfinite(z) or z <= 0.0:
        raise ValueError(
            f"The noise multiplier should be positive for adaptive clipping, got {z!r}."
        )
    if not math.isfinite(count_noise_std) or count_noise_std <= 0.0:
        raise ValueError(f"count_noise_std should be positive, got {count_noise_std!r}.")
    if z >= 2.0 * count_noise_std:
        raise ValueError(
            f"Noise multiplier {z!r} needs count_noise_std > z / 2 = {z / 2!r}, "
            f"got {count_noise_std!r}: z_Delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) is undefined."
        )
    return float((z**-2 - (2.0 * count_noise_std) ** -2) ** -0.5)


def below_clipping_norm(norm: float, clipping_norm: float) -> float:
    """The client's bit b_i = 1[||Delta_i|| <= C], as a float for summation."""
    return 1.0 if norm <= clipping_norm else 0.0


def noisy_fraction_below(
    count_below: float,
    *,
    expected_clients: float,
    count_noise_std: float,
    noise: GaussianNoise,
) -> float:
    """b~ = (sum_i b_i + N(0, sigma_b^2)) / m, m the expected clients (Andrew et al., Alg. 1)."""
    if not expected_clients > 0:
        raise ValueError(f"expected_clients should be positive, got {expected_clients!r}.")
    noised = float(count_below) + float(noise.sample(1, count_noise_std)[0])
    return noised / expected_clients


def next_clipping_norm(
    clipping_norm: float, noisy_fraction: float, config: AdaptiveClippingConfig
) -> float:
    """C * exp(-eta_C * (b~ - gamma)): the geometric update (Andrew et al. 2021, Alg. 1)."""
    current = check_clipping_norm(clipping_norm)
    return current * math.exp(-config.learning_rate * (noisy_fraction - config.target_quantile))


def adaptive_clipping_step(
    norms: npt.ArrayLike,
    clipping_norm: float,
    *,
    expected_clients: float,
    config: AdaptiveClippingConfig,
    noise: GaussianNoise,
) -> float:
    """One round's new clipping norm from the clients' (unclipped) update norms, shape (n,).

    For simulations and servers that see the bits; under secure aggregation call
    ``noisy_fraction_below`` on the aggregated count and then ``next_clipping_norm``.
    """
    current = check_clipping_norm(clipping_norm)
    count = float(np.count_nonzero(np.asarray(norms, dtype=np.float64) <= current))
    fraction = noisy_fraction_below(
        count,
        expected_clients=expected_clients,
        count_noise_std=config.count_noise_std,
        noise=noise,
    )
    return next_clipping_norm(current, fraction, config)
