"""The canary audit on the real release and aggregation code: honest holds, breaks caught."""

from __future__ import annotations

import pytest

from simulation.audit.breaks import BREAKS
from simulation.audit.canary_audit import AuditPlan, audited_ledger, run_canary_audit
from simulation.audit.mechanism import Mechanism
from simulation.audit.one_run import run_one_run_audit
from simulation.audit.report import verdict

QUICK = AuditPlan(trials=600)


@pytest.mark.parametrize("secure", [True, False])
def test_the_honest_mechanism_stays_below_its_ledger_epsilon(secure):
    audit = run_canary_audit(AuditPlan(trials=600, secure_aggregation=secure))

    assert 0.0 <= audit.bound.lower <= audit.ledger_epsilon
    assert audit.ledger_epsilon == pytest.approx(QUICK.claimed_epsilon, abs=0.01)
    assert verdict(audit) == "consistent"


@pytest.mark.parametrize("broken", BREAKS)
def test_each_broken_mechanism_is_caught_under_secure_aggregation(broken):
    audit = run_canary_audit(AuditPlan(trials=600, broken=broken))

    assert audit.bound.lower > audit.ledger_epsilon
    assert verdict(audit) == "caught"


def test_the_servers_re_clip_repairs_a_device_that_skips_clipping_in_plain_rounds():
    audit = run_canary_audit(AuditPlan(trials=600, broken="no-clipping", secure_aggregation=False))

    assert audit.bound.lower <= audit.ledger_epsilon
    assert verdict(audit) == "missed"


def test_the_final_head_variant_over_several_rounds_catches_missing_noise():
    honest = run_canary_audit(AuditPlan(trials=300, rounds=3))
    broken = run_canary_audit(AuditPlan(trials=300, rounds=3, broken="no-noise"))

    assert honest.bound.lower <= honest.ledger_epsilon < broken.bound.lower


def test_the_audited_ledger_is_the_production_ledger_for_the_run():
    ledger = audited_ledger(AuditPlan(rounds=3))

    assert ledger.rounds == 3
    assert ledger.governing_epsilon() <= 2.0


def test_an_unknown_break_is_refused_by_name():
    with pytest.raises(ValueError, match="no-privacy"):
        Mechanism(
            noise_multiplier=1.0,
            clipping_norm=1.0,
            rounds=1,
            other_devices=4,
            update_size=8,
            secure_aggregation=True,
            broken="no-privacy",  # type: ignore[arg-type]
        )


def test_the_one_run_audit_holds_for_the_honest_mechanism_and_catches_missing_noise():
    honest = run_one_run_audit(AuditPlan(), canaries=400, guesses=100)
    broken = run_one_run_audit(AuditPlan(broken="no-noise"), canaries=400, guesses=100)

    assert 0.0 <= honest.lower <= honest.ledger_epsilon
    assert broken.correct == broken.guesses
    assert broken.lower > broken.ledger_epsilon


def test_a_plan_the_audit_cannot_run_is_refused_by_name():
    with pytest.raises(ValueError, match="rounds"):
        AuditPlan(rounds=0)
