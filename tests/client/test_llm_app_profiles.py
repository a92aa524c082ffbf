"""Application profiles: the shipped ones, parsing, and errors that name the bad field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from client.app_profiles import (
    AppProfile,
    AppProfileError,
    builtin_profile,
    builtin_profile_names,
    load_app_profile,
    parse_app_profile_text,
)

VALID = """
schema = 1
name = "cooking-coach"
title = "Cooking coach"

[role]
text = "You help people cook."

[policy]
rules = ["Mention allergens in every recipe.", "No raw-meat dishes for children."]
emergency = "Call emergency services for burns larger than your palm."

[generation]
temperature = 0.4
reply_reserve_tokens = 300
"""


def test_three_profiles_ship_and_parse() -> None:
    names = builtin_profile_names()
    assert names == ("tutor", "travel-planner", "health-information")
    for name in names:
        profile = builtin_profile(name)
        assert profile.name == name
        assert profile.role
        assert profile.rules
        assert all(rule == rule.strip() and rule for rule in profile.rules)


def test_health_profile_is_strict_on_diagnosis_doses_and_emergencies() -> None:
    health = builtin_profile("health-information")
    policy = " ".join(health.rules).lower()
    assert health.strict
    assert "do not diagnose" in policy
    assert "do not give doses" in policy
    assert "emergency" in policy
    assert health.emergency is not None
    assert "emergency number" in health.emergency


def test_profiles_are_frozen_and_parsed_once() -> None:
    profile = builtin_profile("tutor")
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.role = "You are a pirate."  # type: ignore[misc]
    assert builtin_profile("tutor") is profile


def test_valid_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "coach.toml"
    path.write_text(VALID, encoding="utf-8")
    assert load_app_profile(path) == AppProfile(
        name="cooking-coach",
        title="Cooking coach",
        role="You help people cook.",
        rules=("Mention allergens in every recipe.", "No raw-meat dishes for children."),
        strict=False,
        emergency="Call emergency services for burns larger than your palm.",
        temperature=0.4,
        reply_reserve_tokens=300,
    )


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("schema = 1", "schema = 2"), "schema"),
        (('name = "cooking-coach"', 'name = "Cooking Coach"'), "name"),
        (('title = "Cooking coach"', 'title = ""'), "title"),
        (('text = "You help people cook."', "text = 5"), "role.text"),
        (('text = "You help people cook."', 'txt = "You help people cook."'), "role.txt"),
        (('rules = ["Mention', 'rules = ["", "Mention'), r"policy.rules\[0\]"),
        (
            (
                'rules = ["Mention allergens in every recipe.", '
                '"No raw-meat dishes for children."]',
                "rules = []",
            ),
            "policy.rules",
        ),
        (("[policy]", '[policy]\nstrict = "yes"'), "policy.strict"),
        (("temperature = 0.4", "temperature = 9"), "generation.temperature"),
        (
            ("reply_reserve_tokens = 300", "reply_reserve_tokens = 0"),
            "generation.reply_reserve_tokens",
        ),
        (("[role]", "persona = 'x'\n[role]"), "persona"),
        (("[policy]\n", "[safety]\n"), "safety"),
    ],
)
def test_invalid_field_is_named(change: tuple[str, str], field: str) -> None:
    old, new = change
    assert old in VALID
    with pytest.raises(AppProfileError, match=rf"^coach\.toml: {field}: "):
        parse_app_profile_text(VALID.replace(old, new, 1), "coach.toml")


def test_missing_policy_is_named() -> None:
    start, end = VALID.index("[policy]"), VALID.index("[generation]")
    with pytest.raises(AppProfileError, match=r"^coach\.toml: policy: missing"):
        parse_app_profile_text(VALID[:start] + VALID[end:], "coach.toml")


def test_broken_toml_and_missing_file_are_reported(tmp_path: Path) -> None:
    with pytest.raises(AppProfileError, match="not valid TOML"):
        parse_app_profile_text("schema = = 1", "x.toml")
    with pytest.raises(AppProfileError, match="cannot read the profile"):
        load_app_profile(tmp_path / "missing.toml")


def test_unknown_builtin_profile_lists_the_choices() -> None:
    with pytest.raises(AppProfileError, match="tutor"):
        builtin_profile("lawyer")
