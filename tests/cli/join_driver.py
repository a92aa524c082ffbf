"""Driving `fedpersona client join`: a store filled by a real chat session, and the
command as a process of its own (its output in a log file)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT, cli_env, run_cli

SESSION = """I play the cello in an orchestra on Tuesdays.
/remember My sister Ines lives in Lisbon near the river.
/remember I am allergic to peanuts and to shellfish.
My dog Biscuit is a grey whippet.
Which instrument do I play on Tuesdays?
/good
Where does my sister live?
/bad
What should I avoid eating at dinner?
/pick 2
/end
"""
PLAINTEXT = ("cello", "Lisbon", "Ines", "peanuts", "shellfish", "Biscuit", "whippet")


def chat_session(store: Path, cache: Path) -> None:
    env = {**cli_env(), "FEDPERSONA_CACHE_DIR": str(cache)}
    result = run_cli(
        "chat", "--store", str(store), "--passphrase-env", "FP_PASS", "--offline",
        env=env, stdin=SESSION,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def join(store: Path, superlink: str, cache: Path, home: Path, log: Path, *extra: str):
    env = {
        **os.environ,
        **cli_env(),
        "PYTHONPATH": str(REPO_ROOT),
        "FEDPERSONA_CACHE_DIR": str(cache),
        "FLWR_HOME": str(home),
    }
    command = [sys.executable, "-m", "cli.main", "client", "join", "--superlink", superlink]
    command += ["--store", str(store), "--passphrase-env", "FP_PASS", *extra]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
