"""`fedpersona dashboard`: the operator's privacy dashboard (Streamlit) on 127.0.0.1.

Runs ``streamlit run dashboard/app.py`` headless, bound to the loopback address, with
usage statistics off; the dashboard only reads the metrics store. A port already in use
is a clear error (exit 2) before Streamlit starts.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import dashboard
from dashboard.options import add_option_arguments, options_from

HOST = "127.0.0.1"
DEFAULT_PORT = 8501
EXIT_USAGE = 2
APP = Path(dashboard.__file__).resolve().parent / "app.py"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "dashboard",
        help="serve the operator's privacy dashboard on 127.0.0.1",
        description="Aggregates and the privacy budget of federated runs, read-only. "
        "Statistics over fewer clients than --min-cohort are withheld.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run_dashboard)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_option_arguments(parser)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"(default: {DEFAULT_PORT})")


def port_problem(port: int, host: str = HOST) -> str | None:
    """Why the dashboard cannot listen on ``host:port``, or None when it can."""
    if not 1 <= port <= 65535:
        return f"port {port} is not a TCP port (1-65535)"
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return f"port {port} on {host} is already in use; choose another with --port"
            return f"cannot listen on {host}:{port}: {error.strerror}"
    return None


def streamlit_command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.headless",
        "true",
        "--server.address",
        HOST,
        "--server.port",
        str(args.port),
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "viewer",
        "--",
        *options_from(args).as_arguments(),
    ]


def run_dashboard(args: argparse.Namespace) -> int:
    if args.min_cohort < 1:
        print(
            f"fedpersona dashboard: --min-cohort must be >= 1, got {args.min_cohort}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    problem = port_problem(args.port)
    if problem is not None:
        print(f"fedpersona dashboard: {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(f"dashboard: http://{HOST}:{args.port}  (store {args.store}; Ctrl+C stops it)")
    sys.stdout.flush()
    command = streamlit_command(args)
    # Replace this process: the dashboard's pid is this command's, so stopping one stops both.
    os.execv(command[0], command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run without the main CLI: ``python -m cli.dashboard_command --port 8502``."""
    parser = argparse.ArgumentParser(prog="fedpersona dashboard")
    add_arguments(parser)
    return run_dashboard(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
