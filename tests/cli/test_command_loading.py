"""A command loads only its own module: the store commands start without the heavy ones."""

from __future__ import annotations

import subprocess
import sys

from cli.main import COMMANDS, build_parser
from tests.conftest import REPO_ROOT, run_cli

HEAVY = ("dp_accounting", "scipy", "bm25s", "torch", "client.memory_engine")


def test_a_store_command_imports_none_of_the_heavy_modules():
    script = (
        "import sys\n"
        "from cli.main import build_parser\n"
        "build_parser(['store', 'status']).parse_args(['store', 'status'])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_and_an_unknown_command_still_list_every_command():
    listed = run_cli("--help")
    unknown = run_cli("bogus")

    assert listed.returncode == 0
    assert all(name in listed.stdout for name in COMMANDS)
    assert unknown.returncode == 2
    assert all(repr(name) in unknown.stderr for name in COMMANDS)


def test_each_command_is_parsed_by_its_own_parser():
    for name in COMMANDS:
        parser = build_parser([name])
        (subparsers,) = [a for a in parser._actions if a.dest == "command"]
        assert subparsers.choices is not None
        assert list(subparsers.choices) == [name]
