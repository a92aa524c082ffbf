"""Settings declared once: the Flower run config and the command line come from RunSettings."""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import fields

import pytest

from cli.settings_arguments import add_run_settings_arguments, run_settings_from
from server.run_settings import DEPLOYED_DEFAULTS, RunSettings
from tests.conftest import REPO_ROOT

APP_KEYS = {"out", "data-dir"}  # the apps' own keys, not settings


def _run_config() -> dict[str, object]:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    return dict(pyproject["tool"]["flwr"]["app"]["config"])


def test_every_flower_run_config_key_is_a_setting_with_the_same_default():
    config = _run_config()
    names = {f.name for f in fields(RunSettings)}

    unknown = {k for k in config if k.replace("-", "_") not in names} - APP_KEYS
    parsed = RunSettings.from_run_config(config)

    assert not unknown
    # `flwr run .` and `fedpersona simulate` agree, except that a deployed run's epsilon
    # rests on no sampling assumption.
    assert parsed == RunSettings(**DEPLOYED_DEFAULTS)
    assert RunSettings.from_run_config({}) == parsed
    assert parsed.accounting == "unamplified"


def test_every_setting_has_a_flag_with_its_help_and_default():
    parser = argparse.ArgumentParser()
    add_run_settings_arguments(parser)
    text = parser.format_help()

    for spec in fields(RunSettings):
        flag = "--" + spec.metadata.get("flag", spec.name.replace("_", "-"))
        assert flag in text
        assert spec.metadata["help"][:20] in " ".join(text.split())
    assert "(default: 20)" in text
    assert "(default: poisson)" in text
    assert "(default: amplified)" in text  # the command line runs simulations: real sampling


def test_the_flags_parse_back_into_the_settings():
    parser = argparse.ArgumentParser()
    add_run_settings_arguments(parser)

    args = parser.parse_args(["--epsilon", "inf", "--no-secure-aggregation", "--seeded-noise"])
    settings = run_settings_from(args)

    assert settings == RunSettings(
        epsilon=float("inf"), secure_aggregation=False, secure_noise=False
    )
    assert run_settings_from(parser.parse_args([])) == RunSettings()


def test_a_deployed_run_caps_each_device_at_its_average_share_of_rounds_by_default():
    deployed = RunSettings.from_run_config({"clients": 1000, "rounds": 20})

    assert deployed.participation_limit == 1  # 20 rounds x 50 a round / 1000 devices
    assert deployed.with_values(rounds=50).participation_limit == 3
    assert deployed.with_values(participation_cap=4).participation_limit == 4
    assert RunSettings().participation_limit is None  # amplified: no cap


def test_a_participation_cap_is_refused_where_it_would_mean_nothing():
    with pytest.raises(ValueError, match="participation_cap \\(2\\) applies to unamplified"):
        RunSettings(participation_cap=2)
    with pytest.raises(ValueError, match="participation_cap must be >= 1, got 0"):
        RunSettings(accounting="unamplified", participation_cap=0)
    with pytest.raises(ValueError, match="accounting must be one of"):
        RunSettings(accounting="sampled")


def test_settings_saved_before_the_accounting_setting_existed_stay_amplified(tmp_path):
    saved = RunSettings(sampling="fixed_size").to_json()
    del saved["accounting"], saved["participation_cap"]

    assert RunSettings.from_json(saved).accounting == "amplified"
