"""Running `fedpersona` the ways the bad-input tests need: in-process, as another user, limited.

- ``run_main``: the CLI's ``main`` in this process (fast enough for Hypothesis), with its
  output captured; any exception that escapes ``main`` is a traceback a user would see,
  so it propagates and fails the test.
- ``as_unprivileged``: root ignores file permissions, so a read-only folder only stays
  read-only for a process without root's file capabilities; these keyword arguments make
  a subprocess drop them when the tests run as root.
- ``file_size_limit``: the kernel's per-process file size limit (RLIMIT_FSIZE), a real
  quota: a write past it fails like a write to a full disk.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import os
import resource
import signal
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cli.main import main
from tests.conftest import REPO_ROOT, run_cli

# linux/prctl.h and linux/capability.h
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_main(argv: Sequence[str], env: dict[str, str] | None = None) -> Outcome:
    """``fedpersona *argv`` in this process; SystemExit (argparse) becomes its exit code."""
    out, err = io.StringIO(), io.StringIO()
    with _environment(env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
    return Outcome(code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def as_unprivileged() -> dict[str, Any]:
    """subprocess.run keyword arguments that make root obey file permissions.

    Root reads and writes through any mode bits by its capabilities CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH; the child drops both from its bounding set before exec, so the
    program it runs has neither (and stays root, so the interpreter under /root still runs).
    """
    if os.geteuid() != 0:
        return {}
    return {"preexec_fn": _drop_file_capabilities}


def _drop_file_capabilities() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP) failed")


def file_size_limit(limit_bytes: int) -> Callable[[], None]:
    """A preexec_fn: no file may grow past ``limit_bytes`` (writes fail, SIGXFSZ ignored)."""

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    return limit


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def one_line(stderr: str) -> bool:
    """Exactly one line on stderr, and no traceback."""
    return stderr.count("\n") == 1 and stderr.endswith("\n") and "Traceback" not in stderr


def run_cli_process(
    *args: str, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """`fedpersona ...` as its own process from the repository root (tests.conftest.run_cli)."""
    return run_cli(*args, env=env, cwd=REPO_ROOT, **popen)
