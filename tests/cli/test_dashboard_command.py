"""`fedpersona dashboard`: the Streamlit command line it runs, and a port already in use."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

from cli.dashboard_command import (
    APP,
    main,
    port_problem,
    register,
    run_dashboard,
    streamlit_command,
)
from tests.conftest import REPO_ROOT


def test_the_dashboard_listens_on_loopback_headless_without_usage_statistics() -> None:
    args = argparse.Namespace(store=Path("runs/x"), port=8600, min_cohort=12, refresh_seconds=2.0)

    command = streamlit_command(args)

    assert command[1:5] == ["-m", "streamlit", "run", str(APP)]
    joined = " ".join(command)
    assert "--server.headless true --server.address 127.0.0.1 --server.port 8600" in joined
    assert "--browser.gatherUsageStats false" in joined
    assert joined.endswith("-- --store runs/x --min-cohort 12 --refresh-seconds 2.0")


def test_a_port_in_use_is_a_clear_error_with_exit_code_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        result = subprocess.run(
            [sys.executable, "-m", "cli.dashboard_command", "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
            check=False,
        )

    assert result.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_ports_and_cohorts_are_refused() -> None:
    assert port_problem(70000) == "port 70000 is not a TCP port (1-65535)"
    assert main(["--min-cohort", "0"]) == 2


def test_the_command_registers_as_a_subcommand_of_the_cli() -> None:
    parser = argparse.ArgumentParser(prog="fedpersona")
    commands = parser.add_subparsers(dest="command", required=True)
    register(commands)

    args = parser.parse_args(["dashboard", "--store", "runs/a", "--port", "9000"])

    assert args.handler is run_dashboard
    assert (args.store, args.port, args.min_cohort) == (Path("runs/a"), 9000, 10)
