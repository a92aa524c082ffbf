from __future__ import annotations

import math
import re

import numpy as np
import pytest

from privacy.clipping import (
    AdaptiveClippingConfig,
    RejectedUpdate,
    clip_update,
    next_clipping_norm,
    validate_update,
)
from privacy.noise import (
    GaussianNoise,
    SecureGaussian,
    SeededGaussian,
    distributed_noise_share_std,
    gaussian_mechanism_std,
)

# Six standard errors: a correct sampler fails such a check with probability ~2e-9.
SIGMAS = 6.0


def seeded(seed: int = 0) -> SeededGaussian:
    return SeededGaussian(np.random.default_rng(seed))


def summed_shares(noise: GaussianNoise, shares: int, size: int, std: float) -> np.ndarray:
    """The sum of ``shares`` independent noise vectors of shape (size,)."""
    total: np.ndarray = np.stack([noise.sample(size, std) for _ in range(shares)]).sum(axis=0)
    return total


def assert_std_close(samples: np.ndarray, expected_std: float) -> None:
    """Sample mean ~ 0 and sample std ~ expected within 6 standard errors (Gaussian data).

    SE of the mean is s / sqrt(n); SE of the sample std is about s / sqrt(2 n).
    """
    n = samples.size
    assert abs(samples.mean()) < SIGMAS * expected_std / math.sqrt(n)
    assert abs(samples.std() - expected_std) < SIGMAS * expected_std / math.sqrt(2 * n)


# --- clipping ---------------------------------------------------------------------------


def test_zero_update_stays_exactly_zero():
    result = clip_update(np.zeros(5), 1.0)

    assert np.array_equal(result.update, np.zeros(5))
    assert result.norm == 0.0
    assert not result.clipped


def test_clip_scales_a_long_update_onto_the_sphere_of_radius_c():
    result = clip_update(np.array([3.0, 4.0]), 1.0)

    assert np.allclose(result.update, [0.6, 0.8], rtol=0, atol=1e-15)
    assert result.norm == 5.0
    assert result.clipped


def test_clipped_norm_never_exceeds_clipping_norm_across_scales():
    rng = np.random.default_rng(1)
    for scale in (1e-3, 1.0, 1e3, 1e150):
        for clipping_norm in (1e-3, 0.1, 1.0, 7.3):
            update = rng.normal(size=1000) * scale

            clipped = clip_update(update, clipping_norm).update

            assert np.linalg.norm(clipped) <= clipping_norm + 1e-12


def test_update_below_clipping_norm_is_returned_unchanged():
    update = np.array([0.1, -0.2, 0.3])

    result = clip_update(update, 1.0)

    assert np.array_equal(result.update, update)
    assert result.update is not update
    assert not result.clipped


def test_huge_finite_entries_clip_without_overflow():
    result = clip_update(np.array([1e200, 1e200]), 1.0)

    assert np.allclose(result.update, [math.sqrt(0.5)] * 2)
    assert result.norm == pytest.approx(math.sqrt(2.0) * 1e200)


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_clipping_norm_must_be_positive_and_the_error_names_it(bad):
    with pytest.raises(ValueError, match=f"got {bad!r}"):
        clip_update(np.ones(3), bad)


@pytest.mark.parametrize(
    ("update", "kwargs", "reason"),
    [
        ([1.0, math.nan, 0.0], {"expected_size": 3}, "contains NaN"),
        ([1.0, -math.inf, 0.0], {"expected_size": 3}, "contains infinity"),
        (np.zeros(12), {"expected_size": 28900}, "wrong size 12 != 28900"),
        ([1e12, 0.0], {"expected_size": 2, "max_norm": 1e6}, "norm 1e+12 exceeds sanity bound"),
        (np.zeros((2, 2)), {"expected_size": 4}, "not a flat vector"),
    ],
)
def test_validate_update_rejects_with_the_reason_in_the_message(update, kwargs, reason):
    with pytest.raises(RejectedUpdate, match=re.escape(reason)) as caught:
        validate_update(update, **kwargs)

    assert reason in caught.value.reason
    assert isinstance(caught.value, ValueError)


def test_validate_update_returns_a_flat_float64_vector():
    accepted = validate_update([1, 2, 3], expected_size=3, max_norm=10.0)

    assert accepted.dtype == np.float64
    assert accepted.tolist() == [1.0, 2.0, 3.0]


def test_clip_update_refuses_nan_instead_of_passing_it_through():
    with pytest.raises(RejectedUpdate, match="contains NaN"):
        clip_update([math.nan, 1.0], 1.0)


# --- noise ------------------------------------------------------------------------------


def test_seeded_gaussian_is_reproducible_for_a_seed():
    first = seeded(42).sample(100, 2.0)
    second = seeded(42).sample(100, 2.0)

    assert np.array_equal(first, second)
    assert not np.array_equal(first, seeded(43).sample(100, 2.0))


def test_secure_gaussian_has_mean_zero_and_unit_std_within_six_standard_errors():
    samples = SecureGaussian().sample(200_000, 1.0)

    assert samples.dtype == np.float64
    assert samples.shape == (200_000,)
    assert_std_close(samples, 1.0)


def test_secure_gaussian_tail_mass_matches_the_normal_distribution():
    samples = SecureGaussian().sample(200_000, 1.0)
    expected = math.erfc(1.96 / math.sqrt(2.0))  # P(|Z| > 1.96) ~ 0.05

    observed = float(np.mean(np.abs(samples) > 1.96))

    assert abs(observed - expected) < SIGMAS * math.sqrt(expected * (1 - expected) / 200_000)


def test_secure_gaussian_two_calls_differ():
    noise = SecureGaussian()

    assert not np.array_equal(noise.sample(16, 1.0), noise.sample(16, 1.0))


def test_secure_gaussian_all_zero_entropy_gives_its_largest_sample():
    # Pins the transform: u1 = 2**-53, u2 = 0 -> (sqrt(-2 ln 2**-53), 0): the tail cut-off.
    noise = SecureGaussian(random_bytes=bytes)

    samples = noise.sample(3, 2.0)

    largest = 2.0 * math.sqrt(106 * math.log(2))  # ~ 2 * 8.57
    assert samples.tolist() == pytest.approx([largest, largest, 0.0], rel=1e-15)


@pytest.mark.parametrize("backend", [SecureGaussian(), seeded()])
def test_noise_backends_share_the_contract(backend: GaussianNoise):
    assert backend.sample(0, 1.0).shape == (0,)
    assert np.array_equal(backend.sample(7, 0.0), np.zeros(7))
    assert backend.sample(5, 3.0).dtype == np.float64
    with pytest.raises(ValueError, match=r"got -1\.0"):
        backend.sample(3, -1.0)
    with pytest.raises(ValueError, match="got nan"):
        backend.sample(3, math.nan)


def test_gaussian_mechanism_std_is_z_times_c_over_n():
    assert gaussian_mechanism_std(1.1, 0.5, 10) == pytest.approx(0.055, rel=1e-15)
    assert gaussian_mechanism_std(0.0, 0.5, 10) == 0.0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((-1.0, 1.0, 10), "noise multiplier"),
        ((1.0, 0.0, 10), "clipping norm"),
        ((1.0, 1.0, 0), "clients"),
    ],
)
def test_gaussian_mechanism_std_rejects_bad_values_by_name(args, message):
    with pytest.raises(ValueError, match=message):
        gaussian_mechanism_std(*args)


def test_distributed_shares_of_n_clients_sum_to_the_target_std():
    total_std, clients = 3.0, 10
    share_std = distributed_noise_share_std(total_std, clients)
    noise = seeded(7)

    summed = summed_shares(noise, clients, 100_000, share_std)

    assert share_std == pytest.approx(total_std / math.sqrt(clients))
    assert_std_close(summed, total_std)


def test_dropout_shrinks_the_noise_and_overprovisioning_restores_it():
    total_std, clients, survivors = 3.0, 10, 7
    noise = seeded(8)
    plain = distributed_noise_share_std(total_std, clients)
    padded = distributed_noise_share_std(total_std, clients, min_surviving=survivors)

    short = summed_shares(noise, survivors, 100_000, plain)
    covered = summed_shares(noise, survivors, 100_000, padded)

    assert_std_close(short, total_std * math.sqrt(survivors / clients))
    assert_std_close(covered, total_std)
    with pytest.raises(ValueError, match="got 11"):
        distributed_noise_share_std(total_std, clients, min_surviving=11)


# --- adaptive clipping ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_quantile": 1.0}, "target_quantile"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"initial_clipping_norm": 0.0}, "clipping norm"),
    ],
)
def test_adaptive_config_rejects_bad_values_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AdaptiveClippingConfig(**kwargs)


def test_next_clipping_norm_is_the_geometric_update():
    config = AdaptiveClippingConfig(target_quantile=0.5, learning_rate=0.2)

    assert next_clipping_norm(2.0, 0.7, config) == pytest.approx(2.0 * math.exp(-0.04))
    assert next_clipping_norm(2.0, 0.5, config) == 2.0


@pytest.mark.parametrize("start", [0.01, 100.0])
def test_adaptive_clipping_converges_to_the_target_quantile_of_a_noisy_count(start):
    rng = np.random.default_rng(3)
    clients = 100
    config = AdaptiveClippingConfig(target_quantile=0.8)
    noise = seeded(4)
    clipping_norm = start

    for _ in range(300):
        norms = rng.lognormal(mean=0.0, sigma=0.5, size=clients)
        # The count arrives noised, as the release's statistic does (std 5 devices here).
        count = float(np.count_nonzero(norms <= clipping_norm)) + noise.sample(1, 5.0)[0]
        clipping_norm = next_clipping_norm(clipping_norm, count / clients, config)

    true_quantile = math.exp(0.5 * 0.8416212335729143)  # lognormal 0.8-quantile
    assert clipping_norm == pytest.approx(true_quantile, rel=0.15)
