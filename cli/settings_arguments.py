"""Command-line flags generated from the run settings' fields: declared once, in RunSettings.

Every field of ``server.run_settings.RunSettings`` becomes ``--kebab-name`` with its help
text, its type, its choices and its default (shown by ``--help``); booleans take
``--name/--no-name``, or a single flag that negates the field (``--seeded-noise``).

``--preset NAME`` starts from a per-epsilon preset (server.run_presets); a flag given
explicitly overrides it. So that "given" can be told from "defaulted", the parser stores
only the flags that were given (argparse.SUPPRESS); ``--help`` still shows each field's
default, which comes from the help text, not from argparse.
"""

from __future__ import annotations

import argparse
from dataclasses import MISSING, fields
from typing import Any

from server.run_presets import PRESETS, describe, settings_with_preset
from server.run_settings import RunSettings, setting_types


def add_run_settings_arguments(parser: argparse.ArgumentParser) -> None:
    add_preset_argument(parser)
    types = setting_types()
    for spec in fields(RunSettings):
        meta = spec.metadata
        flag = "--" + meta.get("flag", spec.name.replace("_", "-"))
        default = spec.default if spec.default is not MISSING else None
        help_text = meta.get("help", "")
        if default is not None:  # a None default is described by the help text itself
            shown = "off" if meta.get("negate") else _shown(default)
            help_text = f"{help_text} (default: {shown})"
        options: dict[str, Any] = {
            "dest": spec.name,
            "help": help_text.replace("%", "%%"),
            "default": argparse.SUPPRESS,  # absent unless given: a preset may set it
        }
        if types[spec.name] is bool and meta.get("negate"):
            options.update(action="store_false")
        elif types[spec.name] is bool:
            options.update(action=argparse.BooleanOptionalAction)
        else:
            options.update(type=types[spec.name])
            if "choices" in meta:
                options["choices"] = meta["choices"]
        parser.add_argument(flag, **options)


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return "on" if default else "off"
    return str(default)


def add_preset_argument(parser: argparse.ArgumentParser) -> None:
    lines = "; ".join(f"{name}: {describe(name)}" for name in PRESETS)
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=None,
        help=f"start from the configuration measured to suit a privacy budget "
        f"(docs/benchmarks.md); flags given explicitly override it ({lines}) "
        f"(default: none, each setting's own default)",
    )


def run_settings_from(args: argparse.Namespace) -> RunSettings:
    """The settings the parsed flags describe: defaults, then ``--preset``'s values, then
    the flags given (RunSettings validates them)."""
    given = {
        spec.name: getattr(args, spec.name) for spec in fields(RunSettings) if spec.name in args
    }
    return settings_with_preset(getattr(args, "preset", None), given)
