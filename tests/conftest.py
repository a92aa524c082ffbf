"""Shared test factories: fast KDF parameters, profiles, and the CLI as a real process."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from client.embedding import OnnxEmbedder, encoder_dir, export_encoder
from client.profile import Profile
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams

PASSPHRASE = "test passphrase, not a real one"
REPO_ROOT = Path(__file__).resolve().parent.parent

# xdist groups (`make test` runs `pytest -n 2 --dist loadgroup`): a group's tests run one at
# a time in one worker, and xdist hands out the groups first (the largest units). A Ray
# simulation starts a whole local Ray cluster, so two at once would double its memory and
# fight over the cores. A local deployment (flower-superlink, supernodes, `flwr run`) picks
# free ports (`free_port`) and its own FLWR_HOME under tmp_path and never starts Ray; it
# spends most of its time waiting (a SuperNode polls for work every 3 s, and each message
# starts a ClientApp process), so the deployments are split in two groups: at most two run
# at once (with workers to spare), beside one Ray simulation. Only the tests that start
# either carry a mark: the others in the same modules spread over the workers.
# pytest is pinned at 9.1.1: pytest-xdist 3.8.0 groups by appending "@group" to
# `item._nodeid`, which pytest 9.2 no longer reads (Node.nodeid is str(item._id)), and
# under 9.2 these groups were silently not enforced (docs/benchmarks.md).
RAY = pytest.mark.xdist_group("ray")
DEPLOYMENT = pytest.mark.xdist_group("deployment")
SECOND_DEPLOYMENT = pytest.mark.xdist_group("deployment-2")


def fast_kdf() -> KdfParams:
    """The cheapest parameters the store accepts: tests unlock often."""
    return KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "device" / "user.fpstore"


@pytest.fixture
def profile(store_path: Path) -> Iterator[Profile]:
    opened = Profile.create(store_path, PASSPHRASE, kdf=fast_kdf())
    yield opened
    opened.close()


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    timeout: float = 120,
    **popen: Any,
) -> subprocess.CompletedProcess[str]:
    """Run `fedpersona ...` as a separate process, the way a user or a script does
    (``popen``: extra ``subprocess.run`` arguments)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        input=stdin,
        timeout=timeout,
        check=False,
        **popen,
    )


def cli_env(**passphrases: str) -> dict[str, str]:
    return {"FP_PASS": PASSPHRASE, **passphrases}


def init_store_cli(path: Path) -> None:
    result = run_cli(
        "store",
        "init",
        "--store",
        str(path),
        "--passphrase-env",
        "FP_PASS",
        "--kdf-memory-mib",
        "8",
        "--kdf-iterations",
        "1",
        env=cli_env(),
    )
    assert result.returncode == 0, result.stderr


def store_files(path: Path) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if p.name.startswith(path.name))


@pytest.fixture(scope="session")
def encoder_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder with the encoder exported into it, once per run: the xdist workers
    share it (their base folders sit side by side), so the export (about 9 s of CPU) and
    the data sets' embeddings are made once, not once per worker."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if "PYTEST_XDIST_WORKER" in os.environ else base
    cache = shared / "shared-cache"
    cache.mkdir(exist_ok=True)
    with (shared / "shared-cache.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other worker waits for the export
        if not encoder_dir(cache).is_dir():
            export_encoder(encoder_dir(cache))
    return cache


@pytest.fixture(scope="session")
def export(encoder_cache: Path) -> Path:
    return encoder_dir(encoder_cache)


@pytest.fixture(scope="session")
def onnx_embedder(export: Path) -> OnnxEmbedder:
    return OnnxEmbedder(export)
