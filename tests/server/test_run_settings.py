"""Settings declared once: the Flower run config and the command line come from RunSettings."""

from __future__ import annotations

import argparse
import tomllib
from dataclasses import fields

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


def test_the_flags_parse_back_into_the_settings():
    parser = argparse.ArgumentParser()
    add_run_settings_arguments(parser)

    args = parser.parse_args(["--epsilon", "inf", "--no-secure-aggregation", "--seeded-noise"])
    settings = run_settings_from(args)

    assert settings == RunSettings(
        epsilon=float("inf"), secure_aggregation=False, secure_noise=False
    )
    assert run_settings_from(parser.parse_args([])) == RunSettings()
