"""Driving `fedpersona chat` as a person does: a real process in a pseudo-terminal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect

from tests.conftest import PASSPHRASE, REPO_ROOT, init_store_cli

PROMPT = "you> "


def chat_env(cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "FEDPERSONA_CACHE_DIR": str(cache),
        "HF_HUB_OFFLINE": "1",
        "ORT_DISABLE_TELEMETRY": "1",
        "FP_PASS": PASSPHRASE,
    }


def spawn_chat(store: Path, cache: Path, *extra: str, timeout: float = 60) -> pexpect.spawn[str]:
    """`fedpersona chat --store STORE` in a terminal; the passphrase is typed at the prompt."""
    child = pexpect.spawn(
        sys.executable,
        ["-m", "cli.main", "chat", "--store", str(store), *extra],
        env=chat_env(cache),
        encoding="utf-8",
        timeout=timeout,
        dimensions=(50, 200),  # wide: long lines stay whole in the transcript
    )
    return child


def unlock(child: pexpect.spawn[str], passphrase: str = PASSPHRASE) -> None:
    child.expect("Passphrase for ")
    child.sendline(passphrase)
    child.expect_exact(PROMPT)


def say(child: pexpect.spawn[str], line: str) -> str:
    """Send ``line`` and return everything printed until the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT)
    return str(child.before)


def end(child: pexpect.spawn[str]) -> str:
    child.sendline("/end")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    return str(child.before)


def new_store(tmp_path: Path) -> Path:
    store = tmp_path / "me.fpstore"
    init_store_cli(store)  # the cheap KDF: every unlock below stays fast
    return store
