from __future__ import annotations

import math

import numpy as np
import pytest

from privacy.secure_payload import (
    PAYLOAD_RANGE,
    SCALARS,
    minimum_contributors,
    pack,
    quantization_range,
    unpack,
)


def _metrics(**overrides: float) -> dict[str, float]:
    return {
        "train_loss": 2.5,
        "eval_hits": 3.0,
        "eval_examples": 7.0,
        "clipped": 1.0,
        "update_norm": 0.8,
        **overrides,
    }


def test_the_sum_of_payloads_unpacks_into_the_summed_update_and_scalars():
    updates = [np.full(4, 0.1), np.full(4, -0.3), np.arange(4.0) / 10]
    metrics = [_metrics(), _metrics(train_loss=1.5, clipped=0.0), _metrics(eval_hits=0.0)]

    total = np.sum([pack(u, m) for u, m in zip(updates, metrics, strict=True)], axis=0)
    update_sum, scalars = unpack(total, update_size=4)

    np.testing.assert_allclose(update_sum, sum(updates))
    assert scalars["train_loss"] == pytest.approx(6.5)
    assert scalars["trained"] == 3.0
    assert scalars["eval_hits"] == 6.0
    assert scalars["eval_examples"] == 21.0
    assert scalars["clipped"] == 2.0


def test_a_device_that_did_not_train_adds_no_loss_and_is_not_counted_as_trained():
    payload = pack(np.zeros(2), _metrics(train_loss=math.nan))

    _, scalars = unpack(payload, update_size=2)

    assert scalars["train_loss"] == 0.0
    assert scalars["trained"] == 0.0
    assert np.isfinite(payload).all()


def test_scalars_are_capped_into_the_quantisation_range():
    payload = pack(np.zeros(1), _metrics(eval_examples=10 * PAYLOAD_RANGE))

    assert payload[1 + SCALARS.index("eval_examples")] == PAYLOAD_RANGE


def test_a_sum_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        unpack(np.zeros(5), update_size=4)


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
