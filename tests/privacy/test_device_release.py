"""A device's release: one vector of norm <= C holding its update and its statistics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from privacy.clipping import l2_norm
from privacy.device_release import (
    LOSS_CAP,
    MONITORING,
    STATISTICS,
    STATISTICS_SHARE,
    device_statistics,
    no_round_statistics,
    release,
    round_statistics,
    split_sum,
    statistic_scale,
    update_bound,
)


def test_every_release_has_norm_at_most_c_whatever_the_update_and_statistics():
    rng = np.random.default_rng(0)
    for scale in (0.0, 1e-4, 0.3, 10.0, 1e6):
        change = rng.normal(size=300) * scale
        for hits, evaluated in ((0.0, 0), (3.0, 3), (1e9, 2)):
            payload = release(change, 0.7, train_loss=1e9, hits=hits, evaluated=evaluated).payload

            assert l2_norm(payload) <= 0.7
            assert l2_norm(payload[:300]) <= update_bound(0.7) * (1 + 1e-12)


def test_the_split_of_c_is_pinned():
    assert update_bound(1.0) == pytest.approx(math.sqrt(0.9))
    assert statistic_scale(1.0) == pytest.approx(math.sqrt(STATISTICS_SHARE / len(STATISTICS)))
    assert update_bound(1.0) ** 2 + len(STATISTICS) * statistic_scale(1.0) ** 2 == pytest.approx(
        1.0
    )


def test_statistics_are_bounded_to_the_unit_interval():
    stats = device_statistics(train_loss=50.0, hits=7.0, evaluated=4, unclipped=True)

    assert stats == {
        "trained": 1.0,
        "train_loss": 1.0,
        "evaluated": 1.0,
        "hit_rate": 1.0,
        "unclipped": 1.0,
    }
    idle = device_statistics(train_loss=math.nan, hits=0.0, evaluated=0, unclipped=False)
    assert set(idle.values()) == {0.0}


def test_summed_releases_split_into_the_summed_update_and_statistics():
    changes = [np.full(4, 0.1), np.full(4, -0.2), np.arange(4.0) / 10]
    losses = [2.5, 1.5, math.nan]
    payloads = [
        release(c, 1.0, train_loss=loss, hits=1.0, evaluated=2).payload
        for c, loss in zip(changes, losses, strict=True)
    ]

    update_sum, sums = split_sum(np.sum(payloads, axis=0), update_size=4, clipping_norm=1.0)
    named = dict(zip(STATISTICS, sums, strict=True))

    np.testing.assert_allclose(update_sum, sum(changes))
    assert named["trained"] == pytest.approx(2.0)
    assert named["train_loss"] * LOSS_CAP == pytest.approx(4.0)
    assert named["hit_rate"] == pytest.approx(1.5)
    assert named["unclipped"] == pytest.approx(3.0)


def test_a_sum_of_the_wrong_size_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        split_sum(np.zeros(5), update_size=4, clipping_norm=1.0)


def test_round_statistics_give_no_mean_when_the_noisy_count_is_below_one_device():
    sums = np.array([0.4, 0.2, 0.3, 0.1, 0.2, *np.zeros(len(MONITORING))])

    stats = round_statistics(sums, contributors=0, noise_std=3.0)

    assert stats["train_loss"] is None
    assert stats["eval_hits_at_1"] is None
    assert stats["fraction_clipped"] is None
    assert stats["statistic_noise_std"] == 3.0


def test_round_statistics_are_clamped_to_the_possible_range():
    sums = np.array([5.0, 9.0, 5.0, -2.0, 7.0, *np.zeros(len(MONITORING))])  # out of range

    stats = round_statistics(sums, contributors=5, noise_std=3.0)

    assert stats["train_loss"] == LOSS_CAP
    assert stats["eval_hits_at_1"] == 0.0
    assert stats["fraction_clipped"] == 0.0


def _monitoring(rng: np.random.Generator) -> dict[str, float]:
    """Values a buggy or hostile device might compute: in range, far out, negative, NaN."""
    pool = (0.0, 0.3, 1.0, 7.5, -3.0, math.nan, math.inf)
    return {name: float(rng.choice(pool)) for name in MONITORING}


def test_a_release_with_monitoring_statistics_still_has_norm_at_most_c():
    rng = np.random.default_rng(1)
    for trial in range(200):
        change = rng.normal(size=50) * float(rng.choice([0.0, 1e-3, 1.0, 1e6]))
        clipping_norm = float(rng.uniform(0.01, 5.0))

        payload = release(
            change,
            clipping_norm,
            train_loss=float(rng.choice([0.5, 1e9, math.nan])),
            hits=float(rng.uniform(0, 5)),
            evaluated=int(rng.integers(0, 4)),
            monitoring=_monitoring(rng),
        ).payload

        assert np.all(np.isfinite(payload)), trial
        assert l2_norm(payload) <= clipping_norm * (1 + 1e-12), trial
        tail = payload[-len(STATISTICS) :] / statistic_scale(clipping_norm)
        assert np.all((tail >= -1e-12) & (tail <= 1 + 1e-12)), trial


def test_the_monitoring_statistics_follow_the_training_ones_in_order():
    values = {name: (i + 1) / 10 for i, name in enumerate(MONITORING)}

    payload = release(
        np.zeros(3), 1.0, train_loss=math.nan, hits=0.0, evaluated=0, monitoring=values
    )

    tail = payload.payload[-len(MONITORING) :] / statistic_scale(1.0)
    np.testing.assert_allclose(tail, [values[name] for name in MONITORING])
    assert STATISTICS[-len(MONITORING) :] == MONITORING


def test_an_unknown_monitoring_statistic_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown monitoring statistics \\['depth'\\]"):
        release(np.zeros(3), 1.0, train_loss=1.0, hits=0.0, evaluated=0, monitoring={"depth": 1.0})


def test_round_statistics_average_persona_metrics_over_all_and_prompt_metrics_over_the_prompted():
    named = dict.fromkeys(STATISTICS, 0.0)
    named |= {"persona_coverage": 6.0, "persona_depth": 3.0, "uniqueness": 4.5}
    named |= {"prompted": 4.0, "justification": 3.0, "correction": 1.0}
    sums = np.array([named[name] for name in STATISTICS])

    stats = round_statistics(sums, contributors=10, noise_std=2.0)

    assert stats["persona_coverage"] == pytest.approx(0.6)
    assert stats["persona_depth"] == pytest.approx(0.3)
    assert stats["persona_uniqueness"] == pytest.approx(0.45)
    assert stats["prompt_justification"] == pytest.approx(0.75)
    assert stats["correction_rate"] == pytest.approx(0.25)
    assert stats["prompted_sum"] == pytest.approx(4.0)
    assert set(no_round_statistics()) == set(stats)
    assert set(no_round_statistics().values()) == {None}


def test_the_noise_on_a_fleet_mean_at_the_default_settings_is_pinned():
    # docs/privacy.md, "Personalisation monitoring": z = 0.9, C = 0.5, 50 devices a round.
    per_sum = 0.9 * 0.5 / statistic_scale(0.5)

    assert per_sum == pytest.approx(0.9 * math.sqrt(len(STATISTICS) / STATISTICS_SHARE))
    assert per_sum == pytest.approx(9.439, abs=1e-3)
    assert per_sum / 50 == pytest.approx(0.1888, abs=1e-4)
    assert per_sum / 50 / math.sqrt(20) == pytest.approx(0.0422, abs=1e-4)
