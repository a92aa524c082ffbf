"""Entry point of the `fedpersona` console script: sub-commands and exit codes.

Exit codes: 0 done; 2 wrong passphrase or bad arguments (argparse's own code for usage
errors); 3 tampered or unreadable store; 4 store busy (another process kept its write
lock past the timeout). Errors print one line to stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from cli import (
    chat_command,
    dashboard_command,
    demo_command,
    models_commands,
    simulate_command,
    store_commands,
)
from client.records import RecordFormatError
from client.store.errors import (
    StoreBusyError,
    StoreError,
    TamperedRecordsError,
    TamperedStoreError,
)

EXIT_OK, EXIT_USAGE, EXIT_TAMPERED, EXIT_BUSY = 0, 2, 3, 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    return parser


def exit_code_for(error: BaseException) -> int:
    if isinstance(error, TamperedStoreError | TamperedRecordsError):
        return EXIT_TAMPERED
    if isinstance(error, StoreBusyError):
        return EXIT_BUSY
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (StoreError, RecordFormatError, store_commands.InputError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"fedpersona: {message}", file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("fedpersona: interrupted; nothing was left half-written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
