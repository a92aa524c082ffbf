from __future__ import annotations

import numpy as np
import pytest

from privacy.noise import SeededGaussian
from privacy.secure_payload import SecureSum
from server.dp_fedavg import (
    ClientReport,
    aggregate_metrics,
    aggregate_round,
    aggregate_secure_sum,
)


def _noise(seed: int = 0) -> SeededGaussian:
    return SeededGaussian(np.random.default_rng(seed))


def test_without_noise_the_mean_of_clipped_updates_uses_the_fixed_denominator():
    current = np.zeros(4)
    reports = [
        ClientReport(np.array([3.0, 4.0, 0, 0])),  # norm 5: clipped to norm 1
        ClientReport(np.array([0.0, 0.0, 0.5, 0])),
    ]

    result = aggregate_round(
        current, reports, clipping_norm=1.0, noise_multiplier=0.0, denominator=4, noise=_noise()
    )

    np.testing.assert_allclose(result.weights, [0.6 / 4, 0.8 / 4, 0.5 / 4, 0.0])
    assert result.accepted == 2


def test_a_zero_update_stays_zero_and_nan_or_huge_updates_are_rejected_with_a_reason():
    current = np.ones(3)
    reports = [
        ClientReport(np.zeros(3)),
        ClientReport(np.array([np.nan, 0, 0])),
        ClientReport(np.array([1e12, 0, 0])),
        ClientReport(np.zeros(5)),
        ClientReport(None, error="no reply"),
    ]

    result = aggregate_round(
        current, reports, clipping_norm=1.0, noise_multiplier=0.0, denominator=2, noise=_noise()
    )

    np.testing.assert_array_equal(result.weights, current)
    assert result.accepted == 1
    assert result.failed == 1
    assert len(result.rejected) == 3
    reasons = " ".join(result.rejected).lower()
    assert "nan" in reasons
    assert "size" in reasons


def test_no_client_can_buy_influence_by_claiming_more_examples():
    current = np.zeros(2)
    honest = ClientReport(np.array([0.0, 1.0]), {"eval_examples": 1.0})
    boastful = ClientReport(np.array([1.0, 0.0]), {"eval_examples": 1e6, "num_examples": 1e6})

    result = aggregate_round(
        current,
        [honest, boastful],
        clipping_norm=1.0,
        noise_multiplier=0.0,
        denominator=2,
        noise=_noise(),
    )

    np.testing.assert_allclose(result.weights, [0.5, 0.5])


def test_noise_on_the_sum_has_std_z_times_c():
    current = np.zeros(200_000)

    result = aggregate_round(
        current, [], clipping_norm=2.0, noise_multiplier=1.5, denominator=1, noise=_noise(1)
    )

    assert result.noise_std == 3.0
    # The sample std of 200k draws is within 6 standard errors (3 / sqrt(2 * 200k)) of 3.
    assert abs(result.weights.std() - 3.0) < 6 * 3.0 / np.sqrt(2 * 200_000)


def test_metrics_are_aggregates_only():
    metrics = aggregate_metrics(
        [
            {
                "train_loss": 1.0,
                "eval_hits": 2.0,
                "eval_examples": 4.0,
                "clipped": 1.0,
                "update_norm": 3.0,
            },
            {
                "train_loss": 3.0,
                "eval_hits": 1.0,
                "eval_examples": 2.0,
                "clipped": 0.0,
                "update_norm": 1.0,
            },
            {"train_loss": float("nan"), "eval_examples": 0.0},
        ]
    )

    assert metrics["train_loss"] == 2.0
    assert metrics["eval_hits_at_1"] == pytest.approx(3 / 6)
    assert metrics["fraction_clipped"] == 0.5
    assert metrics["update_norm_p50"] == 2.0


def _secure_sum(
    update_sum: list[float], *, contributors: int = 4, sampled: int = 5, **scalars: float
) -> SecureSum:
    sums = {"train_loss": 8.0, "trained": 4.0, "eval_hits": 3.0, "eval_examples": 12.0}
    return SecureSum(
        np.asarray(update_sum, np.float64),
        {**sums, "clipped": 1.0, **scalars},
        contributors,
        sampled,
    )


def test_a_secure_sum_moves_the_head_by_the_sum_over_the_fixed_denominator():
    current = np.ones(3)

    result = aggregate_secure_sum(
        current, _secure_sum([1.0, 2.0, 3.0]), denominator=10, server_learning_rate=2.0
    )

    np.testing.assert_allclose(result.weights, [1.2, 1.4, 1.6])
    assert (result.accepted, result.failed, result.rejected) == (4, 1, ())
    assert result.metrics["train_loss"] == 2.0  # loss sum over the devices that trained
    assert result.metrics["eval_hits_at_1"] == 0.25
    assert result.metrics["fraction_clipped"] == 0.25
    assert result.metrics["update_norm_p50"] is None  # no single norm is ever seen


def test_a_halted_secure_round_leaves_the_head_unchanged():
    halted = SecureSum(np.zeros(3), {}, 0, 5, halted="too few")

    result = aggregate_secure_sum(np.ones(3), halted, denominator=5)

    np.testing.assert_array_equal(result.weights, np.ones(3))
    assert (result.accepted, result.failed) == (0, 5)
    assert result.metrics["train_loss"] is None


def test_a_secure_sum_that_is_not_finite_is_refused_as_a_whole():
    result = aggregate_secure_sum(np.ones(3), _secure_sum([1.0, np.nan, 0.0]), denominator=5)

    np.testing.assert_array_equal(result.weights, np.ones(3))
    assert result.accepted == 0
    assert "NaN" in result.rejected[0]
