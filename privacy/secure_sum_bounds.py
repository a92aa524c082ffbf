"""How large an honest secure sum can be: the range check of an unmasked SecAgg+ sum.

Under secure aggregation the server cannot look at one release, so it cannot re-clip or
reject it (``privacy.device_release``). What it can check is the unmasked sum. With n
honest contributors each sending ``[update ; statistics * s]`` (the update of L2 norm at
most ``C sqrt(1 - STATISTICS_SHARE)``, each statistic in [0, s]) plus a noise share, the sum
of n releases is

* an update part of norm at most ``n C sqrt(1 - STATISTICS_SHARE)`` (triangle inequality),
* statistic sums in ``[0, n s]``,

plus Gaussian noise of std ``sigma`` per coordinate (the shares' variances add) plus the
quantisation error of SecAgg+'s stochastic rounding, below one step ``2R / Q`` per device
and coordinate. The noise is unbounded, so the bounds add a high-probability margin:

* the norm of a d-dimensional N(0, sigma^2 I) vector exceeds ``sigma (sqrt(d) + t)`` with
  probability at most ``exp(-t^2 / 2)`` (Gaussian concentration of the 1-Lipschitz norm
  around its mean, which is at most sqrt(d); Laurent & Massart 2000, Vershynin 2018,
  "High-Dimensional Probability", Thm. 3.1.1 / eq. 5.4), so ``t = sqrt(2 ln(1/p))``;
* one coordinate exceeds ``sigma u`` in absolute value with probability at most
  ``2 exp(-u^2 / 2)`` (Chernoff bound for the Gaussian tail), so across the k statistics
  (union bound) ``u = sqrt(2 ln(2k / p))``.

An honest round fails the check with probability at most 2p (``FALSE_REFUSAL`` each). A
sum outside the bounds is refused as a whole: one device broke the protocol's contract and
the sum cannot say which. What the check does *not* do: a malicious device that stays
inside the bounds can still add any vector that fits the slack (up to the whole
``n C sqrt(1 - share)`` when the honest updates are small), so it can bias the head by up
to about the bound over the denominator, and the statistics within their ranges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from privacy.device_release import STATISTICS, statistic_scale, update_bound

Vector = npt.NDArray[np.float64]

# The chance that each check refuses an honest round because of an unlucky noise draw.
FALSE_REFUSAL = 1e-9


@dataclass(frozen=True)
class SumBounds:
    """The largest honest update-sum norm, and the range of each statistic sum (payload units)."""

    update_norm: float
    statistic_low: float
    statistic_high: float


def secure_sum_bounds(
    *,
    contributors: int,
    update_size: int,
    clipping_norm: float,
    noise_std: float,
    quantisation_step: float,
    failure_probability: float = FALSE_REFUSAL,
) -> SumBounds:
    """Bounds that an honest sum of ``contributors`` releases breaks with probability <= 2p.

    ``noise_std`` is the std of the summed noise per coordinate; ``quantisation_step`` is
    SecAgg+'s 2R/Q (0 when nothing was quantised).
    """
    if contributors < 1:
        raise ValueError(f"contributors must be >= 1, got {contributors}")
    if not 0.0 < failure_probability < 1.0:
        raise ValueError(f"failure_probability must be in (0, 1), got {failure_probability}")
    if noise_std < 0 or quantisation_step < 0:
        raise ValueError(
            f"noise_std and quantisation_step must be >= 0, got {noise_std}, {quantisation_step}"
        )
    # Each device's rounding moves each coordinate by less than one step (deterministic).
    rounding = contributors * quantisation_step
    norm_margin = noise_std * (
        math.sqrt(update_size) + math.sqrt(2.0 * math.log(1.0 / failure_probability))
    )
    coordinate_margin = noise_std * math.sqrt(
        2.0 * math.log(2.0 * len(STATISTICS) / failure_probability)
    )
    return SumBounds(
        update_norm=contributors * update_bound(clipping_norm)
        + norm_margin
        + rounding * math.sqrt(update_size),
        statistic_low=-coordinate_margin - rounding,
        statistic_high=contributors * statistic_scale(clipping_norm) + coordinate_margin + rounding,
    )


def out_of_range(total: Vector, *, update_size: int, bounds: SumBounds) -> str | None:
    """Why the sum ``total`` (shape (update_size + k,)) cannot be honest, or None if it can."""
    update_norm = float(np.linalg.norm(total[:update_size]))
    if update_norm > bounds.update_norm:
        return f"update norm {update_norm:.6g} exceeds the honest bound {bounds.update_norm:.6g}"
    for name, value in zip(STATISTICS, total[update_size:], strict=True):
        if not bounds.statistic_low <= value <= bounds.statistic_high:
            return (
                f"statistic {name!r} sums to {value:.6g}, outside the honest range "
                f"[{bounds.statistic_low:.6g}, {bounds.statistic_high:.6g}]"
            )
    return None
