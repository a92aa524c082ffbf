"""A separate process that writes memories and prints each id once its write returned.

Used by the SIGKILL and two-process tests: `python -m tests.client.store_writer PATH PREFIX N`.
``spawn_script`` runs another writer script with its temporary files kept under one folder
(for the tests that search every file the process left for plaintext).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from client.memory import MemoryItem
from client.profile import Profile
from tests.conftest import PASSPHRASE, REPO_ROOT


def spawn_script(script: str, args: list[str], temp_dir: Path) -> subprocess.Popen[str]:
    """Start ``python -c script *args``, its temporary files (Python and SQLite) in ``temp_dir``."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO_ROOT),
            "TMPDIR": str(temp_dir),
            "SQLITE_TMPDIR": str(temp_dir),
        },
    )


def main() -> None:
    path, prefix, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(abs(hash(prefix)) % 2**32)
    with Profile.open(path, PASSPHRASE) as profile:
        previous: str | None = None
        for index in range(count):
            item = MemoryItem(
                text=f"{prefix} memory {index} " + "x" * int(rng.integers(10, 2000)),
                embedding=rng.standard_normal(384).astype(np.float32),
                links=(previous,) if previous else (),
            )
            profile.memory.remember(item)  # links make each write touch two rows
            print(item.id, flush=True)
            previous = item.id


if __name__ == "__main__":
    main()
