"""L2 clipping of client updates and sanity checks that reject malformed ones.

Clipping bounds each user's contribution: after ``clip_update`` every update has L2 norm
at most C, so the sum of n clipped updates changes by at most C when one user is added or
removed (2C when one is replaced). That bound is the sensitivity the Gaussian mechanism is
calibrated to (Abadi et al. 2016, "Deep Learning with Differential Privacy", Alg. 1;
McMahan et al. 2018, "Learning Differentially Private Recurrent Language Models", Alg. 1).

``validate_update`` runs before clipping on the server (or wherever updates arrive): a NaN
or an infinity would survive clipping unbounded (NaN compares false with every norm), and
an absurd norm signals a broken or hostile client worth logging, even though clipping alone
would bound it.

Updates are flat float64 vectors, shape ``(d,)``.

Adaptive clipping, the second half of this module: Quantile-based adaptive clipping for DP-FedAvg.

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

import numpy as np
import numpy.typing as npt

FloatVector = npt.NDArray[np.float64]


class RejectedUpdate(ValueError):  # noqa: N818 (the name the server logs and catches)
    """An update that must not enter the aggregate; ``reason`` says why, for the log."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Rejected update: {reason}.")
        self.reason = reason


@dataclass(frozen=True, eq=False)
class ClipResult:
    """A clipped update, the L2 norm it had before clipping, and whether it was scaled."""

    update: FloatVector
    norm: float
    clipped: bool


def check_clipping_norm(clipping_norm: float) -> float:
    """Return ``clipping_norm`` as a float, or raise naming it when not finite and > 0."""
    value = float(clipping_norm)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"The clipping norm should be a positive finite value, got {value!r}.")
    return value


def l2_norm(update: FloatVector) -> float:
    """L2 norm that does not overflow for large finite entries (scaled by the max first)."""
    if update.size == 0:
        return 0.0
    largest = float(np.max(np.abs(update)))
    if largest == 0.0 or not math.isfinite(largest):
        return largest
    return largest * float(np.linalg.norm(update / largest))


def _non_finite_reason(update: FloatVector) -> str | None:
    if np.isnan(update).any():
        return "contains NaN"
    if np.isinf(update).any():
        return "contains infinity"
    return None


def _as_flat_float64(update: npt.ArrayLike) -> FloatVector:
    try:
        array = np.asarray(update, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise RejectedUpdate(f"not numeric ({error})") from error
    if array.ndim != 1:
        raise RejectedUpdate(f"shape {array.shape} is not a flat vector")
    return array


def validate_update(
    update: npt.ArrayLike, *, expected_size: int, max_norm: float | None = None
) -> FloatVector:
    """Return ``update`` as a flat float64 vector, or raise ``RejectedUpdate`` with a reason.

    Checks, in order: a flat numeric vector, size ``expected_size`` ("wrong size 12 != 28900"),
    no NaN, no infinity, and (when ``max_norm`` is given) an L2 norm not above ``max_norm``
    ("norm 1e+12 exceeds sanity bound 1e+06"). ``max_norm`` is a sanity bound for logging
    broken clients, not the clipping norm: clipping still bounds the sensitivity.
    """
    if max_norm is not None and not max_norm > 0.0:
        raise ValueError(f"The sanity bound max_norm should be positive, got {max_norm!r}.")
    array = _as_flat_float64(update)
    if array.size != expected_size:
        raise RejectedUpdate(f"wrong size {array.size} != {expected_size}")
    reason = _non_finite_reason(array)
    if reason is not None:
        raise RejectedUpdate(reason)
    if max_norm is not None:
        norm = l2_norm(array)
        if norm > max_norm:
            raise RejectedUpdate(f"norm {norm:.6g} exceeds sanity bound {max_norm:.6g}")
    return array


def clip_update(update: npt.ArrayLike, clipping_norm: float) -> ClipResult:
    """Scale ``update`` (shape ``(d,)``) so its L2 norm is at most ``clipping_norm``.

    ``update * min(1, C / ||update||)`` (Abadi et al. 2016, Alg. 1, "clip gradient"), written
    so that a zero update stays exactly zero (no division by a zero norm) and an update
    already within C is returned unchanged (as a float64 copy). After scaling, the norm is
    checked again and nudged down by one ulp at a time if rounding left it above C, so the
    bound holds exactly in floating point. Non-finite updates raise ``RejectedUpdate``.
    """
    bound = check_clipping_norm(clipping_norm)
    array = _as_flat_float64(update)
    reason = _non_finite_reason(array)
    if reason is not None:
        raise RejectedUpdate(reason)
    norm = l2_norm(array)
    if norm <= bound:
        return ClipResult(update=array.copy(), norm=norm, clipped=False)
    scale = bound / norm
    clipped = array * scale
    while l2_norm(clipped) > bound:
        scale = math.nextafter(scale, 0.0)
        clipped = array * scale
    return ClipResult(update=clipped, norm=norm, clipped=True)


# --- adaptive clipping -------------------------------------------------------------


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
