"""Entry point of the `fedpersona` console script: sub-commands and exit codes.

Exit codes (cli.failures): 0 done; 2 wrong passphrase or bad arguments (argparse's
own code for usage errors); 3 tampered or unreadable store; 4 store busy or changed by
another process; 5 the system refused (no permission, read-only, disk full). Errors print
one line to stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from cli.failures import CAUGHT, EXIT_INTERRUPTED, describe, exit_code_for

# Each command's module, by the word that selects it, in the order `--help` lists them.
# A command loads only its own module: `fedpersona store ...` never imports dp-accounting,
# SciPy or the memory engine (about 1.5 s of CPU a start); `--help` and an unknown command
# load them all, to list them.
COMMANDS = {
    "store": "cli.store_commands",
    "demo": "cli.demo_command",
    "models": "cli.models_commands",
    "simulate": "cli.simulate_command",
    "dashboard": "cli.dashboard_command",
    "chat": "cli.chat_command",
    "audit": "cli.audit_command",
    "client": "cli.join_command",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (with where to find help), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``'s command alone when it names one, else for all of them."""
    parser: argparse.ArgumentParser = OneLineParser(
        prog="fedpersona",
        description="Private, on-device persona and memory for LLM assistants.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    for name, module in COMMANDS.items():
        if chosen in (None, name):
            importlib.import_module(module).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except CAUGHT as error:
        print(f"fedpersona: {describe(error)}", file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("fedpersona: interrupted; nothing was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
