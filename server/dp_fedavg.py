"""User-level DP-FedAvg aggregation (McMahan et al. 2018, "Learning Differentially
Private Recurrent Language Models"), as pure arithmetic on flat update vectors.

Each accepted update is clipped to L2 norm C (again, on the server: the guarantee must
not depend on every device clipping honestly). The sum gets Gaussian noise of standard
deviation z*C and is divided by a fixed denominator n (the expected number of clients
per round), never by the count of replies or by claimed example counts: every client
weighs the same and one client changes the mean by at most C/n.
Updates that are not finite, have the wrong size or an absurd norm are rejected with a
reason and count as dropped.

Under secure aggregation the server gets only the sum (``aggregate_secure_sum``): it can
neither re-clip nor reject one update, the devices' noise shares already carry the noise,
and only sums of the round scalars are known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from privacy.clipping import RejectedUpdate, clip_update, validate_update
from privacy.noise import GaussianNoise
from privacy.secure_payload import SecureSum

Vector = npt.NDArray[np.float64]
SANITY_NORM = 1e6  # far above any sane update of a unit-scale head


@dataclass(frozen=True)
class ClientReport:
    """What came back from one device (``update`` None when it failed)."""

    update: Vector | None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class RoundAggregate:
    weights: Vector
    accepted: int
    rejected: tuple[str, ...]
    failed: int
    noise_std: float
    metrics: dict[str, float | None]


def aggregate_round(
    current: Vector,
    reports: Sequence[ClientReport],
    *,
    clipping_norm: float,
    noise_multiplier: float,
    denominator: float,
    noise: GaussianNoise,
    server_learning_rate: float = 1.0,
    server_adds_noise: bool = True,
) -> RoundAggregate:
    """The new global weights and the round's aggregate metrics."""
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    total = np.zeros_like(current)
    accepted: list[ClientReport] = []
    rejected: list[str] = []
    for report in reports:
        if report.update is None:
            continue
        try:
            validate_update(report.update, expected_size=current.size, max_norm=SANITY_NORM)
        except RejectedUpdate as reason:
            rejected.append(str(reason))
            continue
        total += clip_update(report.update, clipping_norm).update
        accepted.append(report)
    noise_std = noise_multiplier * clipping_norm if server_adds_noise else 0.0
    if noise_std > 0:
        total += noise.sample(total.size, noise_std)
    weights = current + server_learning_rate * total / denominator
    return RoundAggregate(
        weights=weights,
        accepted=len(accepted),
        rejected=tuple(rejected),
        failed=sum(r.update is None for r in reports),
        noise_std=noise_std,
        metrics=aggregate_metrics([r.metrics for r in accepted]),
    )


def aggregate_metrics(metrics: Sequence[dict[str, float]]) -> dict[str, float | None]:
    """Only aggregates: means, sums and quantiles, never one client's value."""

    def values(key: str) -> list[float]:
        return [m[key] for m in metrics if key in m and np.isfinite(m[key])]

    losses, norms, clipped = values("train_loss"), values("update_norm"), values("clipped")
    hits, examples = sum(values("eval_hits")), sum(values("eval_examples"))
    quantiles = np.quantile(norms, [0.1, 0.5, 0.9]).tolist() if norms else [None] * 3
    return {
        "train_loss": float(np.mean(losses)) if losses else None,
        "eval_hits_at_1": hits / examples if examples else None,
        "eval_examples": float(examples),
        "fraction_clipped": float(np.mean(clipped)) if clipped else None,
        "update_norm_p10": quantiles[0],
        "update_norm_p50": quantiles[1],
        "update_norm_p90": quantiles[2],
    }


def aggregate_secure_sum(
    current: Vector,
    secure_sum: SecureSum,
    *,
    denominator: float,
    server_learning_rate: float = 1.0,
) -> RoundAggregate:
    """The new global weights from a secure-aggregation round's sum (noise already in it).

    A halted round (no sum revealed) leaves the weights as they were. A sum that is not
    finite or has an absurd norm is refused as a whole: one bad device spoils the round,
    since the sum cannot say which.
    """
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    contributors = secure_sum.contributors
    failed = secure_sum.sampled - contributors
    rejected: tuple[str, ...] = ()
    weights = current.copy()
    if contributors and secure_sum.halted is None:
        try:
            validate_update(
                secure_sum.update_sum,
                expected_size=current.size,
                max_norm=SANITY_NORM * contributors,
            )
            weights = current + server_learning_rate * secure_sum.update_sum / denominator
        except RejectedUpdate as reason:
            rejected = (f"the secure sum: {reason}",)
    return RoundAggregate(
        weights=weights,
        accepted=contributors if not rejected else 0,
        rejected=rejected,
        failed=failed,
        noise_std=0.0,  # added by the devices, not here
        metrics=secure_sum_metrics(secure_sum.scalar_sums, contributors),
    )


def secure_sum_metrics(sums: dict[str, float], contributors: int) -> dict[str, float | None]:
    """The round's aggregate metrics from summed scalars (no quantiles: one norm is never seen)."""

    def ratio(numerator: str, denominator: float) -> float | None:
        return sums[numerator] / denominator if denominator >= 0.5 and numerator in sums else None

    return {
        "train_loss": ratio("train_loss", sums.get("trained", 0.0)),
        "eval_hits_at_1": ratio("eval_hits", sums.get("eval_examples", 0.0)),
        "eval_examples": float(round(sums.get("eval_examples", 0.0))),
        "fraction_clipped": ratio("clipped", contributors),
        "update_norm_p10": None,
        "update_norm_p50": None,
        "update_norm_p90": None,
    }
