"""Per-epsilon presets: their accounted epsilon stays within their budget, and the command
line applies them under the flags given explicitly."""

from __future__ import annotations

import argparse

import pytest
from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent  # type: ignore[import-untyped]
from dp_accounting.pld import pld_privacy_accountant  # type: ignore[import-untyped]
from dp_accounting.rdp import rdp_privacy_accountant  # type: ignore[import-untyped]

from cli.settings_arguments import add_run_settings_arguments, run_settings_from
from server.privacy_budget import noise_multiplier_for
from server.run_presets import PRESETS, preset_values, settings_with_preset
from server.run_settings import RunSettings

# The noise multipliers bench.federated / bench.head_averaging published for these budgets
# on PersonaChat's 800 devices (docs/benchmarks.md; delta 1/(10 N), q = 0.125, 60 rounds).
PUBLISHED_NOISE = {"eps8": 0.908, "eps3": 1.590, "eps1": 3.598}


def accounted_epsilons(settings: RunSettings, noise_multiplier: float) -> tuple[float, float]:
    """(RDP, PLD) epsilon of the run, composed afresh with dp-accounting, not privacy/."""
    event = PoissonSampledDpEvent(settings.sampling_rate, GaussianDpEvent(noise_multiplier))
    rdp = rdp_privacy_accountant.RdpAccountant()
    rdp.compose(event, settings.rounds)
    # A coarser grid than the ledger's (1e-3 against 1e-4) only rounds epsilon up.
    pld = pld_privacy_accountant.PLDAccountant(value_discretization_interval=1e-3)
    pld.compose(event, settings.rounds)
    delta = settings.target_delta
    return float(rdp.get_epsilon(delta)), float(pld.get_epsilon(delta))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_a_presets_accounted_epsilon_does_not_exceed_its_target(name):
    # The population the preset was measured on; the calibration is the same for any N.
    settings = settings_with_preset(name, {"clients": 800, "population": "personachat"})
    target = PRESETS[name]["epsilon"]

    noise = noise_multiplier_for(settings)
    rdp, pld = accounted_epsilons(settings, noise)

    assert settings.epsilon == target
    assert noise == pytest.approx(PUBLISHED_NOISE[name], abs=5e-4)
    assert rdp <= target
    assert pld <= target
    # Calibrated, not over-provisioned: the budget is spent, to within the bisection.
    assert rdp == pytest.approx(target, rel=0.01)


def _parse(*flags: str) -> RunSettings:
    parser = argparse.ArgumentParser()
    add_run_settings_arguments(parser)
    return run_settings_from(parser.parse_args(list(flags)))


def test_the_command_line_applies_a_preset_under_the_flags_given():
    assert _parse("--preset", "eps3") == RunSettings(**PRESETS["eps3"])
    assert _parse("--preset", "eps3", "--rounds", "30").rounds == 30
    # A flag given explicitly wins even where it repeats RunSettings' default, on either side.
    assert _parse("--local-epochs", "5", "--preset", "eps8").local_epochs == 5
    assert _parse("--preset", "eps8", "--server-learning-rate", "1.5").server_learning_rate == 1.5
    assert _parse("--head-averaging", "0.8", "--preset", "eps8").head_averaging == 0.8
    assert _parse("--preset", "eps1", "--no-secure-aggregation").secure_aggregation is False
    assert _parse() == RunSettings()  # no preset: `make run`'s defaults, unchanged


def test_presets_leave_the_population_and_secure_aggregation_to_the_run():
    for values in PRESETS.values():
        assert not {"population", "clients", "secure_aggregation", "seed"} & set(values)


def test_an_unknown_preset_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown preset 'eps5'; presets: eps8, eps3, eps1"):
        preset_values("eps5")


def test_help_shows_each_preset_and_the_defaults_it_replaces():
    parser = argparse.ArgumentParser()
    add_run_settings_arguments(parser)
    text = " ".join(parser.format_help().split())

    assert "--preset {eps1,eps3,eps8}" in text
    assert "eps3: --rounds 60 --clients-per-round 100" in text
    assert "(default: none, each setting's own default)" in text
    assert "(default: 20)" in text  # --rounds' own default still shown
