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

Privacy: the bits are released as one of the statistics of every device's release
(``privacy.device_release``), inside the same Gaussian mechanism as the model update, so the
noisy count costs no budget of its own (it takes a share of C, not a share of z: Andrew et
al.'s composition argument, with the count's noise set by the release's). With secure
aggregation only the noised sum is ever seen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from privacy.clipping import check_clipping_norm


@dataclass(frozen=True, kw_only=True)
class AdaptiveClippingConfig:
    """Settings of quantile-based adaptive clipping (Andrew et al. 2021, Alg. 1).

    Attributes:
        target_quantile: gamma in (0, 1), the quantile of update norms C tracks (paper: 0.5).
        learning_rate: eta_C > 0 of the geometric update (paper: 0.2).
        initial_clipping_norm: C_0 > 0 (paper: 0.1).
    """

    target_quantile: float = 0.5
    learning_rate: float = 0.2
    initial_clipping_norm: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 < self.target_quantile < 1.0:
            raise ValueError(f"target_quantile should be in (0, 1), got {self.target_quantile!r}.")
        if not math.isfinite(self.learning_rate) or self.learning_rate <= 0.0:
            raise ValueError(f"learning_rate should be positive, got {self.learning_rate!r}.")
        check_clipping_norm(self.initial_clipping_norm)


def next_clipping_norm(
    clipping_norm: float, noisy_fraction: float, config: AdaptiveClippingConfig
) -> float:
    """C * exp(-eta_C * (b~ - gamma)): the geometric update (Andrew et al. 2021, Alg. 1)."""
    current = check_clipping_norm(clipping_norm)
    return current * math.exp(-config.learning_rate * (noisy_fraction - config.target_quantile))
