from __future__ import annotations

import pytest

from privacy.secure_aggregation import minimum_contributors, quantization_range


@pytest.mark.parametrize("devices", [1, 2, 5, 100, 1023, 1024, 100_000])
def test_the_quantisation_range_keeps_every_sum_below_the_modulus(devices):
    q = quantization_range(devices)

    assert q & (q - 1) == 0  # a power of two
    assert devices * q < 2**32  # the appended weight factors sum to devices * q
    assert q <= 2**22


def test_the_quantisation_range_refuses_rounds_too_large_for_32_bits():
    with pytest.raises(ValueError, match="too many"):
        quantization_range(2**25)


@pytest.mark.parametrize(
    ("sampled", "tolerance", "minimum"), [(10, 0.2, 8), (5, 0.2, 4), (3, 0.0, 3), (1, 0.4, 1)]
)
def test_minimum_contributors(sampled, tolerance, minimum):
    assert minimum_contributors(sampled, tolerance) == minimum


def test_a_dropout_tolerance_of_half_or_more_is_refused():
    with pytest.raises(ValueError, match="dropout_tolerance"):
        minimum_contributors(10, 0.5)
