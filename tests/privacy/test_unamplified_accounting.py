"""Accounting without amplification by sampling: each device joins at most k rounds.

Every epsilon here is pinned against dp-accounting's own accountants composing k Gaussian
events, which is what a user who took part in k rounds risks, however devices were chosen.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import dp_accounting  # type: ignore[import-untyped]
import pytest
from dp_accounting.pld import pld_privacy_accountant  # type: ignore[import-untyped]
from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

from privacy.accounting_assumption import assumption_kind, describe_assumption
from privacy.calibration import (
    MAX_PROJECTED_ROUNDS,
    Sampling,
    calibrate_noise_multiplier,
    compute_epsilon,
    least_noisy,
)
from privacy.ledger import PrivacyLedger

DELTA = 1e-5


def capped(k: int) -> Sampling:
    return Sampling(kind="unamplified", participation_cap=k)


def gaussians_epsilon(
    noise_multipliers: list[float], accountant: str = "rdp", delta: float = DELTA
) -> float:
    """dp-accounting on its own: one Gaussian event per round a user took part in."""
    tracker = (
        rdp_privacy_accountant.RdpAccountant()
        if accountant == "rdp"
        else pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-4)
    )
    for z in noise_multipliers:
        tracker.compose(dp_accounting.GaussianDpEvent(z))
    return float(tracker.get_epsilon(delta))


def test_k_of_many_rounds_is_k_gaussian_events_pinned_against_dp_accounting():
    ledger = PrivacyLedger(
        sampling="unamplified", participation_cap=3, noise_multiplier=1.0, target_delta=DELTA
    )
    for _ in range(100):
        ledger.record_round()

    rdp, pld = ledger.epsilon("rdp"), ledger.epsilon("pld")

    assert round(rdp, 2) == 9.01
    assert round(pld, 2) == 8.39
    assert rdp == pytest.approx(gaussians_epsilon([1.0] * 3), rel=1e-12)
    assert pld == pytest.approx(gaussians_epsilon([1.0] * 3, "pld"), rel=1e-9)
    assert ledger.events()[0] == dp_accounting.GaussianDpEvent(1.0)


def test_k_gaussians_equal_one_gaussian_at_z_over_root_k():
    # Composing k Gaussian mechanisms of noise z is one of noise z / sqrt(k) (Dong, Roth,
    # Su 2019, "Gaussian Differential Privacy", Cor. 3.3): an identity the PLD must respect.
    k, z = 4, 2.0
    composed = compute_epsilon(capped(k), [z] * 10, delta=DELTA, accountant="pld")
    single = compute_epsilon(capped(1), [z / math.sqrt(k)], delta=DELTA, accountant="pld")

    assert composed == pytest.approx(single, abs=2e-3)


def analytic_gaussian_epsilon(sigma: float, delta: float) -> float:
    """The exact epsilon of one Gaussian mechanism of sensitivity 1 and noise sigma at delta
    (Balle, Wang 2018, "Improving the Gaussian Mechanism for Differential Privacy", Thm. 8:
    delta(eps) = Phi(1/(2 sigma) - eps sigma) - e^eps Phi(-1/(2 sigma) - eps sigma)), by
    bisection, since delta(eps) falls as eps grows."""

    def phi(x: float) -> float:
        return 0.5 * math.erfc(-x / math.sqrt(2.0))

    def delta_at(eps: float) -> float:
        a = 1.0 / (2.0 * sigma)
        return phi(a - eps * sigma) - math.exp(eps) * phi(-a - eps * sigma)

    low, high = 0.0, 100.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if delta_at(middle) > delta else (low, middle)
    return high


def test_the_pld_epsilon_matches_the_exact_analytic_gaussian_mechanism():
    # Three rounds at z = 1 are one Gaussian at 1 / sqrt(3); the PLD accountant rounds
    # pessimistically, so it may exceed the exact value, by little, and never fall below.
    exact = analytic_gaussian_epsilon(1.0 / math.sqrt(3.0), DELTA)

    pld = compute_epsilon(capped(3), [1.0] * 100, delta=DELTA, accountant="pld")

    assert exact <= pld <= exact + 0.01
    assert round(exact, 2) == 8.39


def test_the_worst_k_rounds_count_when_the_noise_varies():
    rounds = [2.0, 0.8, 1.5, 0.8, 3.0, 1.2]

    epsilon = compute_epsilon(capped(3), rounds, delta=DELTA)

    assert epsilon == pytest.approx(gaussians_epsilon([0.8, 0.8, 1.2]), rel=1e-12)
    assert least_noisy(((0.8, 2), (1.2, 1), (1.5, 1)), 3) == ((0.8, 2), (1.2, 1))


def test_fewer_rounds_than_the_cap_compose_every_round():
    assert compute_epsilon(capped(5), [1.0, 2.0], delta=DELTA) == pytest.approx(
        gaussians_epsilon([1.0, 2.0]), rel=1e-12
    )


def test_without_amplification_epsilon_is_larger_than_with_it_at_the_same_noise():
    amplified = compute_epsilon(
        Sampling(kind="poisson", sampling_probability=0.05), [1.0] * 20, delta=DELTA
    )
    unamplified = compute_epsilon(capped(20), [1.0] * 20, delta=DELTA)

    assert unamplified > 3 * amplified


def test_calibration_finds_the_smallest_noise_within_the_target():
    z = calibrate_noise_multiplier(
        target_epsilon=8.0, delta=1e-4, rounds=20, sampling="unamplified", participation_cap=1
    )

    assert gaussians_epsilon([z], delta=1e-4) <= 8.0
    assert gaussians_epsilon([z * 0.99], delta=1e-4) > 8.0
    assert round(z, 3) == 0.582


def test_the_budget_stop_and_rounds_left_once_every_device_is_capped():
    ledger = PrivacyLedger(
        sampling="unamplified",
        participation_cap=2,
        noise_multiplier=1.0,
        target_delta=DELTA,
        budget_epsilon=8.0,
    )
    ledger.record_round()

    assert gaussians_epsilon([1.0, 1.0]) <= 8.0  # two rounds fit, and no more can count
    assert not ledger.would_exceed_budget()
    assert ledger.rounds_left() == MAX_PROJECTED_ROUNDS
    tight = PrivacyLedger(
        sampling="unamplified",
        participation_cap=5,
        noise_multiplier=1.0,
        target_delta=DELTA,
        budget_epsilon=gaussians_epsilon([1.0] * 2) + 0.01,
    )
    assert tight.rounds_left() == 2


def test_the_ledger_saves_its_cap_and_says_what_its_epsilon_rests_on(tmp_path: Path):
    ledger = PrivacyLedger(
        sampling="unamplified", participation_cap=2, noise_multiplier=1.0, target_delta=DELTA
    )
    ledger.record_round()
    path = tmp_path / "ledger.json"

    ledger.save(path)
    saved = json.loads(path.read_text())
    loaded = PrivacyLedger.load(path, expected=ledger.settings)

    assert saved["settings"]["sampling"]["participation_cap"] == 2
    assert saved["assumption"] == ledger.assumption()
    assert "holds however devices are chosen" in ledger.assumption()
    assert "at most 2 rounds" in ledger.assumption()
    assert loaded.epsilons() == ledger.epsilons()


def test_a_ledger_saved_before_the_cap_existed_still_loads(tmp_path: Path):
    ledger = PrivacyLedger(
        sampling="poisson", sampling_probability=0.01, noise_multiplier=1.0, target_delta=DELTA
    )
    data = ledger.to_json()
    del data["settings"]["sampling"]["participation_cap"]
    del data["assumption"]

    assert PrivacyLedger.from_json(data, expected=ledger.settings).settings == ledger.settings


def test_each_sampling_says_when_its_epsilon_holds():
    poisson = Sampling(kind="poisson", sampling_probability=0.05)
    fixed = Sampling(kind="fixed_size", clients_per_round=50, population=1000)

    assert describe_assumption(poisson).startswith("amplified by Poisson sampling (q = 0.05)")
    assert "truly sampled at random" in describe_assumption(poisson)
    assert "truly drawn uniformly at random" in describe_assumption(fixed)
    assert "at most 1 round of" in describe_assumption(capped(1))
    assert [assumption_kind(s) for s in (poisson, fixed, capped(1))] == [
        "amplified",
        "amplified",
        "unamplified",
    ]


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"participation_cap": 0}, "participation_cap should be an integer >= 1, got 0"),
        ({"participation_cap": None}, "participation_cap should be an integer >= 1, got None"),
        ({"participation_cap": 2, "sampling_probability": 0.1}, "participation_cap only"),
    ],
)
def test_bad_unamplified_settings_are_refused_by_name(values, message):
    with pytest.raises(ValueError, match=message):
        Sampling(kind="unamplified", **values)


def test_a_cap_is_refused_for_amplified_sampling():
    with pytest.raises(ValueError, match="participation_cap is for 'unamplified' only"):
        Sampling(kind="poisson", sampling_probability=0.1, participation_cap=2)
