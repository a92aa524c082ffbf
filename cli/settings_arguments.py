"""Command-line flags generated from the run settings' fields: declared once, in RunSettings.

Every field of ``server.run_settings.RunSettings`` becomes ``--kebab-name`` with its help
text, its type, its choices and its default (shown by ``--help``); booleans take
``--name/--no-name``, or a single flag that negates the field (``--seeded-noise``).
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

from server.run_settings import RunSettings, setting_types


def add_run_settings_arguments(parser: argparse.ArgumentParser) -> None:
    types = setting_types()
    for spec in fields(RunSettings):
        meta = spec.metadata
        flag = "--" + meta.get("flag", spec.name.replace("_", "-"))
        default = spec.default if spec.default is not MISSING else None
        help_text = meta.get("help", "")
        if default is not None:  # a None default is described by the help text itself
            shown = "off" if meta.get("negate") else _shown(default)
            help_text = f"{help_text} (default: {shown})"
        options: dict[str, Any] = {"dest": spec.name, "help": help_text.replace("%", "%%")}
        if types[spec.name] is bool and meta.get("negate"):
            options.update(action="store_false", default=default)
        elif types[spec.name] is bool:
            options.update(action=argparse.BooleanOptionalAction, default=default)
        else:
            options.update(type=types[spec.name], default=default)
            if "choices" in meta:
                options["choices"] = meta["choices"]
        parser.add_argument(flag, **options)


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return "on" if default else "off"
    return str(default)


def run_settings_from(args: argparse.Namespace) -> RunSettings:
    """The settings the parsed flags describe (RunSettings validates them)."""
    return RunSettings(**{spec.name: getattr(args, spec.name) for spec in fields(RunSettings)})
