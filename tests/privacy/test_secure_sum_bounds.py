"""The range check of an unmasked secure sum: honest sums pass, a device's excess does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from privacy.device_release import STATISTICS, release, statistic_scale, update_bound
from privacy.secure_aggregation import quantisation_step
from privacy.secure_sum_bounds import FALSE_REFUSAL, out_of_range, secure_sum_bounds

D, C = 400, 0.5


def _honest_sum(rng: np.random.Generator, devices: int, noise_std: float) -> np.ndarray:
    """The worst honest sum: every device's update at its bound, all pointing one way, and
    every statistic at 1; then the round's noise."""
    direction = np.zeros(D)
    direction[0] = 10.0
    payloads = [
        release(direction, C, train_loss=5.0, hits=1.0, evaluated=1).payload for _ in range(devices)
    ]
    total: np.ndarray = np.sum(payloads, axis=0) + rng.normal(0.0, noise_std, D + len(STATISTICS))
    return total


def test_the_bounds_are_n_times_the_release_bounds_without_noise():
    bounds = secure_sum_bounds(
        contributors=7, update_size=D, clipping_norm=C, noise_std=0.0, quantisation_step=0.0
    )

    assert bounds.update_norm == pytest.approx(7 * C * math.sqrt(0.9))
    assert bounds.statistic_high == pytest.approx(7 * statistic_scale(C))
    assert bounds.statistic_low == 0.0


def test_the_noise_margin_is_the_gaussian_norm_concentration_bound():
    bounds = secure_sum_bounds(
        contributors=1, update_size=D, clipping_norm=C, noise_std=2.0, quantisation_step=0.0
    )

    t = math.sqrt(2 * math.log(1 / FALSE_REFUSAL))  # about 6.44
    assert bounds.update_norm == pytest.approx(update_bound(C) + 2.0 * (math.sqrt(D) + t))
    u = math.sqrt(2 * math.log(2 * len(STATISTICS) / FALSE_REFUSAL))
    assert bounds.statistic_low == pytest.approx(-2.0 * u)


@pytest.mark.parametrize("noise_std", [0.0, 0.3, 3.0])
def test_the_worst_honest_sums_pass(noise_std):
    rng = np.random.default_rng(0)
    bounds = secure_sum_bounds(
        contributors=5,
        update_size=D,
        clipping_norm=C,
        noise_std=noise_std,
        quantisation_step=quantisation_step(5),
    )

    for _ in range(200):
        assert out_of_range(_honest_sum(rng, 5, noise_std), update_size=D, bounds=bounds) is None


def test_one_device_with_an_update_a_few_times_too_large_is_caught():
    rng = np.random.default_rng(1)
    noise_std = 0.3
    bounds = secure_sum_bounds(
        contributors=5, update_size=D, clipping_norm=C, noise_std=noise_std, quantisation_step=0
    )
    total = _honest_sum(rng, 5, noise_std)
    total[1] += bounds.update_norm  # what one device added beyond its clipping norm

    reason = out_of_range(total, update_size=D, bounds=bounds)

    assert reason is not None
    assert "update norm" in reason
    assert "exceeds the honest bound" in reason


@pytest.mark.parametrize("value", [-0.5, 10.0])
def test_a_statistic_sum_outside_zero_to_n_s_is_caught_and_named(value):
    bounds = secure_sum_bounds(
        contributors=5, update_size=D, clipping_norm=C, noise_std=0.0, quantisation_step=0
    )
    total = np.zeros(D + len(STATISTICS))
    total[D + STATISTICS.index("hit_rate")] = value

    reason = out_of_range(total, update_size=D, bounds=bounds)

    assert reason is not None
    assert "'hit_rate'" in reason


def test_bounds_refuse_nonsense_arguments():
    with pytest.raises(ValueError, match="contributors must be >= 1, got 0"):
        secure_sum_bounds(
            contributors=0, update_size=D, clipping_norm=C, noise_std=0, quantisation_step=0
        )
    with pytest.raises(ValueError, match="failure_probability"):
        secure_sum_bounds(
            contributors=1,
            update_size=D,
            clipping_norm=C,
            noise_std=0,
            quantisation_step=0,
            failure_probability=0.0,
        )
