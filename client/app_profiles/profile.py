"""An application profile: the assistant's role and safety policy, from a TOML file.

The role and the policy belong to the application, not to the person: they come only
from a profile file, are parsed once into a frozen :class:`AppProfile`, and are placed
in the prompt before, and apart from, anything learned about the person (see
``client.llm.prompt_builder``). File format (every key is checked; unknown keys are
errors, so a typo cannot silently drop a rule)::

    schema = 1
    name = "health-information"          # lowercase letters, digits and dashes
    title = "Health information"

    [role]
    text = "You are ..."

    [policy]
    strict = true                         # optional, default false
    rules = ["Never ...", "..."]          # at least one
    emergency = "If this may be an emergency, call ..."   # optional

    [generation]                          # optional table
    temperature = 0.3                     # optional, 0 to 2
    reply_reserve_tokens = 512            # optional, tokens kept free for the reply
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1
DEFAULT_REPLY_RESERVE_TOKENS = 512
_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_TOP_KEYS = {"schema", "name", "title", "role", "policy", "generation"}
_TABLE_KEYS = {
    "role": {"text"},
    "policy": {"strict", "rules", "emergency"},
    "generation": {"temperature", "reply_reserve_tokens"},
}


class AppProfileError(ValueError):
    """A profile file is unreadable or invalid; the message names the file and the field."""


@dataclass(frozen=True, kw_only=True)
class AppProfile:
    """One application's role and safety policy (see the module docstring for the file)."""

    name: str
    title: str
    role: str
    rules: tuple[str, ...]
    strict: bool = False
    emergency: str | None = None
    temperature: float | None = None
    reply_reserve_tokens: int = DEFAULT_REPLY_RESERVE_TOKENS


def _fail(source: str, field: str, problem: str) -> AppProfileError:
    return AppProfileError(f"{source}: {field}: {problem}")


def _text(value: Any, source: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(source, field, f"expected a non-empty string, got {value!r}")
    return value.strip()


def _table(data: Mapping[str, Any], key: str, source: str, *, required: bool) -> Mapping[str, Any]:
    if key not in data:
        if required:
            raise _fail(source, key, "missing (a table is required)")
        return {}
    table = data[key]
    if not isinstance(table, dict):
        raise _fail(source, key, f"expected a table, got {table!r}")
    unknown = sorted(set(table) - _TABLE_KEYS[key])
    if unknown:
        raise _fail(
            source, f"{key}.{unknown[0]}", f"unknown key (allowed: {sorted(_TABLE_KEYS[key])})"
        )
    return table


def _rules(policy: Mapping[str, Any], source: str) -> tuple[str, ...]:
    rules = policy.get("rules")
    if not isinstance(rules, list) or not rules:
        raise _fail(source, "policy.rules", f"expected a non-empty list of strings, got {rules!r}")
    return tuple(_text(rule, source, f"policy.rules[{i}]") for i, rule in enumerate(rules))


def _generation(table: Mapping[str, Any], source: str) -> tuple[float | None, int]:
    temperature = table.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not 0 <= temperature <= 2
    ):
        raise _fail(source, "generation.temperature", f"expected 0 to 2, got {temperature!r}")
    reserve = table.get("reply_reserve_tokens", DEFAULT_REPLY_RESERVE_TOKENS)
    if isinstance(reserve, bool) or not isinstance(reserve, int) or reserve < 1:
        raise _fail(
            source,
            "generation.reply_reserve_tokens",
            f"expected a positive integer, got {reserve!r}",
        )
    return (float(temperature) if temperature is not None else None), reserve


def parse_app_profile(data: Mapping[str, Any], source: str = "<profile>") -> AppProfile:
    """Check ``data`` (a parsed TOML document) and build the profile.

    Raises:
        AppProfileError: naming ``source`` and the first bad field.
    """
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _fail(source, unknown[0], f"unknown key (allowed: {sorted(_TOP_KEYS)})")
    if data.get("schema") != SCHEMA_VERSION:
        raise _fail(source, "schema", f"expected {SCHEMA_VERSION}, got {data.get('schema')!r}")
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _fail(source, "name", f"expected lowercase letters, digits and dashes, got {name!r}")
    role = _table(data, "role", source, required=True)
    policy = _table(data, "policy", source, required=True)
    strict = policy.get("strict", False)
    if not isinstance(strict, bool):
        raise _fail(source, "policy.strict", f"expected true or false, got {strict!r}")
    emergency = policy.get("emergency")
    temperature, reserve = _generation(_table(data, "generation", source, required=False), source)
    return AppProfile(
        name=name,
        title=_text(data.get("title"), source, "title"),
        role=_text(role.get("text"), source, "role.text"),
        rules=_rules(policy, source),
        strict=strict,
        emergency=None if emergency is None else _text(emergency, source, "policy.emergency"),
        temperature=temperature,
        reply_reserve_tokens=reserve,
    )


def parse_app_profile_text(text: str, source: str = "<profile>") -> AppProfile:
    """Parse TOML ``text`` into a profile (errors name ``source``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise AppProfileError(f"{source}: not valid TOML: {error}") from error
    return parse_app_profile(data, source)


def load_app_profile(path: Path) -> AppProfile:
    """Read and parse the profile file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise AppProfileError(f"{path}: cannot read the profile: {error}") from error
    return parse_app_profile_text(text, str(path))
