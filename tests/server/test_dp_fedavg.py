from __future__ import annotations

import math

import numpy as np
import pytest

from privacy.device_release import (
    STATISTICS,
    bound_payload,
    payload_size,
    release,
    statistic_noise_std,
    statistic_scale,
    update_bound,
)
from privacy.noise import SeededGaussian
from privacy.secure_aggregation import SecureSum
from server.dp_fedavg import ClientReport, aggregate_round, aggregate_secure_sum

K = len(STATISTICS)


def _noise(seed: int = 0) -> SeededGaussian:
    return SeededGaussian(np.random.default_rng(seed))


def _release(change: list[float], *, clipping_norm: float = 1.0, **stats: float) -> np.ndarray:
    values = {"train_loss": 2.5, "hits": 1.0, "evaluated": 2, **stats}
    return release(
        np.asarray(change, np.float64),
        clipping_norm,
        train_loss=float(values["train_loss"]),
        hits=float(values["hits"]),
        evaluated=int(values["evaluated"]),
    ).payload


def test_without_noise_the_mean_of_clipped_updates_uses_the_fixed_denominator():
    current = np.zeros(4)
    bound = update_bound(1.0)
    reports = [
        ClientReport(_release([3.0, 4.0, 0, 0])),  # norm 5: clipped to the update's bound
        ClientReport(_release([0.0, 0.0, 0.5, 0])),
    ]

    result = aggregate_round(
        current, reports, clipping_norm=1.0, noise_multiplier=0.0, denominator=4, noise=_noise()
    )

    expected = [0.6 * bound / 4, 0.8 * bound / 4, 0.5 / 4, 0.0]
    np.testing.assert_allclose(result.weights, expected)
    assert result.accepted == 2
    assert result.metrics["fraction_clipped"] == 0.5
    assert result.metrics["eval_hits_at_1"] == pytest.approx(0.5)
    assert result.metrics["train_loss"] == pytest.approx(2.5)


def test_a_zero_update_stays_zero_and_nan_or_huge_updates_are_rejected_with_a_reason():
    current = np.ones(3)
    zero = _release([0.0, 0.0, 0.0])
    reports = [
        ClientReport(zero),
        ClientReport(np.concatenate([[np.nan, 0, 0], np.zeros(K)])),
        ClientReport(np.concatenate([[1e12, 0, 0], np.zeros(K)])),
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


class _NoNoiseDrawn:
    def sample(self, size: int, std: float) -> np.ndarray:
        raise AssertionError("noise was drawn for a round with nothing to release")


def test_a_plain_round_without_an_accepted_release_releases_nothing():
    reports = [
        ClientReport(np.concatenate([[np.nan, 0, 0], np.zeros(K)])),
        ClientReport(None, error="no reply"),
        ClientReport(_release([1.0, 0.0, 0.0]), discarded="bound to round 1, not round 2"),
    ]

    result = aggregate_round(
        np.ones(3),
        reports,
        clipping_norm=1.0,
        noise_multiplier=1.0,
        denominator=2,
        noise=_NoNoiseDrawn(),
    )

    np.testing.assert_array_equal(result.weights, np.ones(3))
    assert (result.accepted, result.failed, len(result.rejected)) == (0, 1, 2)
    assert all(value is None for value in result.metrics.values())
    assert not result.released


def test_a_device_that_skips_clipping_is_bounded_by_the_server_all_the_same():
    current = np.zeros(3)
    hostile = np.concatenate([[30.0, 40.0, 0.0], np.full(K, 1e3)])  # statistics far above 1

    result = aggregate_round(
        current,
        [ClientReport(hostile)],
        clipping_norm=1.0,
        noise_multiplier=0.0,
        denominator=1,
        noise=_noise(),
    )

    assert np.linalg.norm(result.weights) <= 1.0
    hits = result.metrics["eval_hits_at_1"]
    assert hits is None or 0.0 <= hits <= 1.0


def test_the_server_bounds_every_release_to_the_clipping_norm():
    rng = np.random.default_rng(3)
    for scale in (1e-3, 1.0, 1e3):
        payload = rng.normal(size=payload_size(50)) * scale

        bounded = bound_payload(payload, 0.5)

        assert np.linalg.norm(bounded) <= 0.5
        assert (bounded[-K:] >= 0).all()
        assert (bounded[-K:] <= statistic_scale(0.5)).all()


def test_no_client_can_buy_influence_by_claiming_more_examples():
    current = np.zeros(2)
    honest = ClientReport(_release([0.0, 0.5], evaluated=1))
    boastful = ClientReport(_release([0.5, 0.0], evaluated=10**6, hits=10**6))

    result = aggregate_round(
        current,
        [honest, boastful],
        clipping_norm=1.0,
        noise_multiplier=0.0,
        denominator=2,
        noise=_noise(),
    )

    np.testing.assert_allclose(result.weights, [0.25, 0.25])


def test_noise_on_the_sum_has_std_z_times_c_on_update_and_statistics_alike():
    current = np.zeros(200_000)
    zero_release = ClientReport(np.zeros(payload_size(current.size)))  # noise is all there is

    result = aggregate_round(
        current,
        [zero_release],
        clipping_norm=2.0,
        noise_multiplier=1.5,
        denominator=1,
        noise=_noise(1),
    )

    assert result.noise_std == 3.0
    # The sample std of 200k draws is within 6 standard errors (3 / sqrt(2 * 200k)) of 3.
    assert abs(result.weights.std() - 3.0) < 6 * 3.0 / np.sqrt(2 * 200_000)
    # In the statistics' own units the same noise is z * sqrt(K / share).
    assert result.metrics["statistic_noise_std"] == pytest.approx(1.5 * math.sqrt(K / 0.1))
    assert statistic_noise_std(3.0, 2.0) == pytest.approx(1.5 * math.sqrt(K / 0.1))


def _secure_sum(
    releases: list[np.ndarray], *, sampled: int = 5, halted: str | None = None
) -> SecureSum:
    return SecureSum(np.sum(releases, axis=0), len(releases), sampled, halted=halted)


def test_a_secure_sum_moves_the_head_by_the_sum_over_the_fixed_denominator():
    current = np.ones(3)
    releases = [
        _release([0.1, 0.2, 0.3], hits=1.0, evaluated=4),
        _release([0.0, 0.0, 0.0], hits=0.0, evaluated=4),
        _release([3.0, 0.0, 0.0], hits=2.0, evaluated=4),  # clipped
        _release([0.0, 0.1, 0.0], train_loss=math.nan, hits=1.0, evaluated=4),
    ]

    result = aggregate_secure_sum(
        current,
        _secure_sum(releases),
        clipping_norm=1.0,
        noise_share_std=0.0,
        denominator=10,
        server_learning_rate=2.0,
    )

    update_sum = np.array([0.1 + update_bound(1.0), 0.3, 0.3])
    np.testing.assert_allclose(result.weights, current + 2.0 * update_sum / 10)
    assert (result.accepted, result.failed, result.rejected) == (4, 1, ())
    assert result.metrics["train_loss"] == pytest.approx(2.5)  # over the 3 that trained
    assert result.metrics["eval_hits_at_1"] == pytest.approx(4 / 16)
    assert result.metrics["fraction_clipped"] == pytest.approx(0.25)


def test_a_halted_secure_round_leaves_the_head_unchanged_and_releases_no_statistic():
    halted = SecureSum(np.zeros(payload_size(3)), 0, 5, halted="too few")

    result = aggregate_secure_sum(
        np.ones(3), halted, clipping_norm=1.0, noise_share_std=0.5, denominator=5
    )

    np.testing.assert_array_equal(result.weights, np.ones(3))
    assert (result.accepted, result.failed) == (0, 5)
    assert all(value is None for value in result.metrics.values())
    assert not result.released  # so the ledger may withdraw the round's charge


def test_a_secure_sum_that_is_not_finite_is_refused_as_a_whole():
    bad = _release([1.0, 0.0, 0.0])
    bad[1] = np.nan

    result = aggregate_secure_sum(
        np.ones(3), _secure_sum([bad]), clipping_norm=1.0, noise_share_std=0.0, denominator=5
    )

    np.testing.assert_array_equal(result.weights, np.ones(3))
    assert result.accepted == 0
    assert "NaN" in result.rejected[0]
    assert result.released  # the sum was revealed to the server: the round stays charged


def test_a_secure_sum_beyond_what_honest_devices_can_send_is_refused_as_a_whole():
    honest = [_release([0.1, 0.2, 0.0]) for _ in range(4)]
    hostile = np.zeros(payload_size(3))
    hostile[0] = 50.0  # finite, within SecAgg+'s range, far above C

    result = aggregate_secure_sum(
        np.ones(3),
        _secure_sum([*honest, hostile]),
        clipping_norm=1.0,
        noise_share_std=0.01,
        denominator=5,
    )

    np.testing.assert_array_equal(result.weights, np.ones(3))
    assert result.accepted == 0
    assert "exceeds the honest bound" in result.rejected[0]
    assert all(value is None for value in result.metrics.values())


def test_a_discarded_reply_counts_as_rejected_with_its_reason_not_as_dropped():
    reports = [
        ClientReport(_release([0.1, 0.0])),
        ClientReport(None, discarded="node 3: the reply is bound to run '1' round 1"),
        ClientReport(None, error="no reply"),
    ]

    result = aggregate_round(
        np.zeros(2),
        reports,
        clipping_norm=1.0,
        noise_multiplier=0.0,
        denominator=3,
        noise=_noise(),
    )

    assert (result.accepted, result.failed) == (1, 1)
    assert result.rejected == ("node 3: the reply is bound to run '1' round 1",)
