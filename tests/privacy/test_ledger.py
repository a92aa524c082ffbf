from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import dp_accounting  # type: ignore[import-untyped]
import pytest
from dp_accounting.pld import pld_privacy_accountant  # type: ignore[import-untyped]
from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

from privacy.calibration import AccountantKind, calibrate_noise_multiplier, compute_epsilon
from privacy.ledger import LedgerMismatchError, PrivacyLedger

DELTA = 1e-5
ADD_REMOVE = dp_accounting.NeighboringRelation.ADD_OR_REMOVE_ONE
REPLACE_ONE = dp_accounting.NeighboringRelation.REPLACE_ONE


def poisson_ledger(**overrides: Any) -> PrivacyLedger:
    settings: dict[str, Any] = {
        "sampling": "poisson",
        "sampling_probability": 0.01,
        "noise_multiplier": 1.0,
        "target_delta": DELTA,
    }
    return PrivacyLedger(**{**settings, **overrides})


def fixed_size_ledger(**overrides: Any) -> PrivacyLedger:
    settings: dict[str, Any] = {
        "sampling": "fixed_size",
        "clients_per_round": 10,
        "population": 1000,
        "noise_multiplier": 2.0,
        "target_delta": DELTA,
    }
    return PrivacyLedger(**{**settings, **overrides})


def run(ledger: PrivacyLedger, rounds: int) -> PrivacyLedger:
    for _ in range(rounds):
        ledger.record_round()
    return ledger


def poisson_event(q: float, z: float) -> dp_accounting.DpEvent:
    return dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(z))


def rdp_epsilon(events: list[Any], relation: Any = ADD_REMOVE) -> float:
    accountant = rdp_privacy_accountant.RdpAccountant(neighboring_relation=relation)
    for event in events:
        accountant.compose(event)
    return float(accountant.get_epsilon(DELTA))


def pld_epsilon(events: list[Any], interval: float = 1e-4) -> float:
    accountant = pld_privacy_accountant.PLDAccountant(
        ADD_REMOVE, value_discretization_interval=interval
    )
    for event in events:
        accountant.compose(event)
    return float(accountant.get_epsilon(DELTA))


# --- pinned values ----------------------------------------------------------------------


def test_poisson_1000_rounds_pins_environment_values_and_dp_accounting():
    ledger = run(poisson_ledger(), 1000)
    independent = [dp_accounting.SelfComposedDpEvent(poisson_event(0.01, 1.0), 1000)]

    rdp, pld = ledger.epsilon("rdp"), ledger.epsilon("pld")

    assert round(rdp, 2) == 2.10
    assert round(pld, 2) == 1.83
    assert ledger.describe() == "epsilon 2.10 (RDP), 1.83 (PLD) at delta 1e-05 after 1000 rounds."
    assert rdp == pytest.approx(rdp_epsilon(independent), rel=1e-12)
    assert pld == pytest.approx(pld_epsilon(independent), rel=1e-9)


def test_fixed_size_10_of_1000_pins_the_replace_one_value():
    # z = 2 means std 2C on the sum: noise multiplier 1 w.r.t. the replace-one sensitivity 2C.
    ledger = run(fixed_size_ledger(noise_multiplier=2.0), 1000)
    event = dp_accounting.SampledWithoutReplacementDpEvent(
        1000, 10, dp_accounting.GaussianDpEvent(1.0)
    )

    epsilon = ledger.epsilon("rdp")

    assert round(epsilon, 2) == 3.58
    assert epsilon == pytest.approx(
        rdp_epsilon([dp_accounting.SelfComposedDpEvent(event, 1000)], REPLACE_ONE), rel=1e-12
    )


def test_fixed_size_accounts_noise_multiplier_against_sensitivity_2c():
    ledger = run(fixed_size_ledger(noise_multiplier=1.0), 20)
    event = dp_accounting.SampledWithoutReplacementDpEvent(
        1000, 10, dp_accounting.GaussianDpEvent(0.5)
    )
    composed = [dp_accounting.SelfComposedDpEvent(event, 20)]

    assert ledger.epsilon() == pytest.approx(rdp_epsilon(composed, REPLACE_ONE), rel=1e-12)


def test_fixed_size_has_no_pld_accountant_and_says_so():
    ledger = run(fixed_size_ledger(), 3)

    assert set(ledger.epsilons()) == {"rdp"}
    with pytest.raises(ValueError, match="'pld' does not support 'fixed_size'"):
        ledger.epsilon("pld")


def test_varying_noise_per_round_equals_composing_each_round_in_order():
    noise_multipliers = [1.0, 1.3, 1.0, 0.8, 1.3]
    ledger = poisson_ledger(sampling_probability=0.05, pld_discretization=1e-3)
    for z in noise_multipliers:
        ledger.record_round(noise_multiplier=z)
    events = [poisson_event(0.05, z) for z in noise_multipliers]

    assert ledger.noise_multipliers == tuple(noise_multipliers)
    assert ledger.epsilon("rdp") == pytest.approx(rdp_epsilon(events), rel=1e-12)
    # The ledger composes equal rounds together; PLD convolutions in another order agree to
    # floating-point error (~1e-10 here), not to the last bit.
    assert ledger.epsilon("pld") == pytest.approx(pld_epsilon(events, interval=1e-3), rel=1e-8)
    assert ledger.epsilon("rdp") == pytest.approx(rdp_epsilon([ledger.dp_event()]), rel=1e-12)


# --- properties -------------------------------------------------------------------------


def test_six_rounds_equal_one_six_fold_self_composed_event():
    ledger = run(poisson_ledger(sampling_probability=0.05, pld_discretization=1e-3), 6)
    composed = [dp_accounting.SelfComposedDpEvent(poisson_event(0.05, 1.0), 6)]

    assert ledger.epsilon("rdp") == pytest.approx(rdp_epsilon(composed), rel=1e-12)
    assert ledger.epsilon("pld") == pytest.approx(pld_epsilon(composed, interval=1e-3), rel=1e-9)


def test_no_rounds_means_epsilon_zero():
    for ledger in (poisson_ledger(), fixed_size_ledger()):
        assert ledger.rounds == 0
        assert all(epsilon == 0.0 for epsilon in ledger.epsilons().values())


def test_more_rounds_never_lower_epsilon():
    ledger = poisson_ledger(pld_discretization=1e-3)
    seen: dict[AccountantKind, list[float]] = {"rdp": [0.0], "pld": [0.0]}

    for target in (1, 2, 10, 100, 500):
        run(ledger, target - ledger.rounds)
        for kind, values in seen.items():
            values.append(ledger.epsilon(kind))

    for values in seen.values():
        assert values == sorted(values)
        assert values[-1] > values[1]


def test_more_noise_never_raises_epsilon():
    noise_multipliers = (0.6, 0.8, 1.0, 1.5, 3.0)

    for kind in ("rdp", "pld"):
        epsilons = [
            run(poisson_ledger(noise_multiplier=z, pld_discretization=1e-3), 100).epsilon(kind)
            for z in noise_multipliers
        ]
        assert epsilons == sorted(epsilons, reverse=True)
        assert epsilons[0] > epsilons[-1]


def test_no_noise_mode_reports_infinity_and_never_claims_privacy():
    ledger = run(poisson_ledger(noise_multiplier=0.0, budget_epsilon=10.0), 1)

    assert ledger.epsilons() == {"rdp": math.inf, "pld": math.inf}
    assert not ledger.is_private
    assert ledger.describe().startswith("NOT PRIVATE")
    assert ledger.would_exceed_budget()


def test_one_round_without_noise_makes_epsilon_infinite_for_good():
    ledger = run(poisson_ledger(), 5)
    ledger.record_round(noise_multiplier=0.0)
    run(ledger, 5)

    assert ledger.epsilon("rdp") == math.inf
    assert not ledger.is_private


# --- budget stop ------------------------------------------------------------------------


def test_would_exceed_budget_turns_true_exactly_before_the_passing_round():
    event = poisson_event(0.1, 1.0)
    governing = [
        max(
            rdp_epsilon([dp_accounting.SelfComposedDpEvent(event, k)]),
            pld_epsilon([dp_accounting.SelfComposedDpEvent(event, k)], interval=1e-3),
        )
        for k in (5, 6)
    ]
    budget = 0.5 * (governing[0] + governing[1])  # round 5 fits, round 6 would pass
    ledger = poisson_ledger(
        sampling_probability=0.1, pld_discretization=1e-3, budget_epsilon=budget
    )

    answers = []
    for _ in range(7):
        answers.append(ledger.would_exceed_budget())
        ledger.record_round()

    assert answers == [False] * 5 + [True] * 2


def test_budget_stop_checks_the_larger_of_rdp_and_pld():
    probe = run(poisson_ledger(pld_discretization=1e-3), 300)
    rdp, pld = probe.epsilon("rdp"), probe.epsilon("pld")
    ledger = run(poisson_ledger(pld_discretization=1e-3, budget_epsilon=0.5 * (rdp + pld)), 299)

    assert pld < rdp  # PLD is tighter here; the RDP bound governs the stop
    assert ledger.would_exceed_budget()


def test_without_a_budget_the_ledger_never_stops_a_run():
    assert not run(poisson_ledger(), 10).would_exceed_budget()


# --- persistence ------------------------------------------------------------------------


def test_save_load_continues_the_ledger(tmp_path: Path):
    path = tmp_path / "ledger.json"
    settings: dict[str, Any] = {
        "sampling_probability": 0.05,
        "budget_epsilon": 8.0,
        "pld_discretization": 1e-3,
    }
    first = poisson_ledger(**settings)
    for z in (1.0, 1.0, 1.2):
        first.record_round(noise_multiplier=z)
    first.save(path)

    resumed = PrivacyLedger.load(path, expected=first.settings)
    resumed.record_round(noise_multiplier=1.2)
    resumed.record_round()
    whole = poisson_ledger(**settings)
    for z in (1.0, 1.0, 1.2, 1.2, 1.0):
        whole.record_round(noise_multiplier=z)

    assert resumed.rounds == 5
    assert resumed.noise_multipliers == whole.noise_multipliers
    assert resumed.epsilons() == whole.epsilons()
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.json"]


def test_loading_a_ledger_with_other_settings_names_the_difference(tmp_path: Path):
    path = tmp_path / "ledger.json"
    run(poisson_ledger(), 2).save(path)

    with pytest.raises(LedgerMismatchError, match=r"noise_multiplier: 1\.0 != 1\.1"):
        PrivacyLedger.load(path, expected=poisson_ledger(noise_multiplier=1.1).settings)


def test_failed_save_keeps_the_previous_file_and_leaves_no_temp(tmp_path: Path, monkeypatch):
    path = tmp_path / "ledger.json"
    run(poisson_ledger(), 2).save(path)
    before = path.read_text()

    def broken_dump(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        run(poisson_ledger(), 3).save(path)

    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.json"]


def test_from_json_rejects_a_file_that_is_not_a_ledger():
    valid = run(poisson_ledger(), 1).to_json()

    with pytest.raises(ValueError, match="Not a version 1 privacy ledger"):
        PrivacyLedger.from_json({**valid, "format": "something-else"})
    with pytest.raises(ValueError, match="Malformed privacy ledger settings"):
        PrivacyLedger.from_json({**valid, "settings": {"noise_multiplier": 1.0}})
    with pytest.raises(ValueError, match="got -1"):
        PrivacyLedger.from_json({**valid, "rounds": [[1.0, -1]]})


# --- validation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sampling_probability": 0.0}, "got 0.0"),
        ({"sampling_probability": 1.5}, "got 1.5"),
        ({"noise_multiplier": -1.0}, "got -1.0"),
        ({"target_delta": 0.0}, "target_delta should be in"),
        ({"budget_epsilon": -2.0}, "got -2.0"),
        ({"sampling": "stratified"}, "'stratified'"),
        ({"population": 100}, "takes sampling_probability only"),
    ],
)
def test_poisson_settings_reject_bad_values_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        poisson_ledger(**overrides)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"clients_per_round": 2000}, "clients_per_round=2000, population=1000"),
        ({"target_delta": 1e-3}, "well below 1 / population"),
    ],
)
def test_fixed_size_settings_reject_bad_values_by_name(overrides, message):
    with pytest.raises(ValueError, match=message):
        fixed_size_ledger(**overrides)


# --- calibration ------------------------------------------------------------------------


def test_calibrated_noise_multiplier_is_the_smallest_meeting_the_target():
    settings: dict[str, Any] = {"sampling": "poisson", "sampling_probability": 0.01}
    target = 2.0

    z = calibrate_noise_multiplier(target_epsilon=target, delta=DELTA, rounds=1000, **settings)
    ledger = run(poisson_ledger(noise_multiplier=z), 1000)
    below = run(poisson_ledger(noise_multiplier=0.99 * z), 1000)

    assert ledger.epsilon("rdp") <= target < below.epsilon("rdp")
    assert 1.0 < z < 1.1  # z = 1 gives 2.10 (RDP), slightly above the target


def test_calibration_works_for_fixed_size_and_pld():
    fixed = calibrate_noise_multiplier(
        target_epsilon=4.0,
        delta=DELTA,
        rounds=200,
        sampling="fixed_size",
        clients_per_round=10,
        population=1000,
        relative_tolerance=5e-3,
    )
    pld_z = calibrate_noise_multiplier(
        target_epsilon=1.0,
        delta=DELTA,
        rounds=50,
        sampling="poisson",
        sampling_probability=0.05,
        accountant="pld",
        pld_discretization=1e-3,
    )

    assert run(fixed_size_ledger(noise_multiplier=fixed), 200).epsilon() <= 4.0
    assert run(fixed_size_ledger(noise_multiplier=0.99 * fixed), 200).epsilon() > 4.0
    pld_at = [
        compute_epsilon(
            poisson_ledger(sampling_probability=0.05).settings.sampling,
            [z] * 50,
            delta=DELTA,
            accountant="pld",
            pld_discretization=1e-3,
        )
        for z in (pld_z, 0.99 * pld_z)
    ]
    assert pld_at[0] <= 1.0 < pld_at[1]


def test_a_withdrawn_round_counts_as_a_round_but_composes_no_event(tmp_path: Path):
    ledger = poisson_ledger(sampling_probability=0.05)
    for z in (1.0, 0.8, 1.2):
        ledger.record_round(noise_multiplier=z)
        if z == 0.8:
            ledger.withdraw_last_round("secure aggregation halted before unmasking")
    ledger.save(tmp_path / "ledger.json")

    resumed = PrivacyLedger.load(tmp_path / "ledger.json", expected=ledger.settings)

    charged = [poisson_event(0.05, 1.0), poisson_event(0.05, 1.2)]
    assert resumed.rounds == 3  # a resumed run continues after the withdrawn round
    assert resumed.withdrawn == {2: "secure aggregation halted before unmasking"}
    assert resumed.epsilon("rdp") == pytest.approx(rdp_epsilon(charged), rel=1e-12)
    assert resumed.epsilon("rdp") < run(poisson_ledger(sampling_probability=0.05), 3).epsilon()
    assert "released nothing" in resumed.describe()


def test_withdrawing_a_round_without_noise_restores_the_guarantee():
    ledger = poisson_ledger()
    ledger.record_round()
    ledger.record_round(noise_multiplier=0.0)
    assert not ledger.is_private

    ledger.withdraw_last_round("no release was accepted")

    assert ledger.is_private
    assert math.isfinite(ledger.epsilon())


def test_only_the_last_recorded_round_can_be_withdrawn_once_and_with_a_reason():
    ledger = poisson_ledger()
    with pytest.raises(ValueError, match="no round"):
        ledger.withdraw_last_round("nothing")
    ledger.record_round()
    with pytest.raises(ValueError, match="reason"):
        ledger.withdraw_last_round("")
    ledger.withdraw_last_round("halted")
    with pytest.raises(ValueError, match="already withdrawn"):
        ledger.withdraw_last_round("halted again")


def test_a_ledger_file_naming_an_unrecorded_withdrawn_round_is_refused():
    data = run(poisson_ledger(), 2).to_json()
    data["withdrawn"] = [[3, "halted"]]

    with pytest.raises(ValueError, match="withdrawn round"):
        PrivacyLedger.from_json(data)
