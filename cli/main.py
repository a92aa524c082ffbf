"""Entry point of the `fedpersona` console script: sub-commands and exit codes.

Exit codes (cli.failures): 0 done; 2 wrong passphrase or bad arguments (argparse's
own code for usage errors); 3 tampered or unreadable store; 4 store busy or changed by
another process; 5 the system refused (no permission, read-only, disk full). Errors print
one line to stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from cli import (
    audit_command,
    chat_command,
    dashboard_command,
    demo_command,
    join_command,
    models_commands,
    simulate_command,
    store_commands,
)
from cli.failures import CAUGHT, EXIT_INTERRUPTED, describe, exit_code_for


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (with where to find help), exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = OneLineParser(
        prog="fedpersona",
        description="Private, on-device persona and memory for LLM assistants.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store_commands.register(commands)
    demo_command.register(commands)
    models_commands.register(commands)
    simulate_command.register(commands)
    dashboard_command.register(commands)
    chat_command.register(commands)
    audit_command.register(commands)
    join_command.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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
