"""A simulated run's folder: settings, the simulated devices' stores, shared embeddings.

Layout of ``OUT``::

    settings.json      the run's settings (resuming checks they still match)
    workspace.json     population, encoder and the simulated devices' store secret
    clients/NNNNN.fpstore   one encrypted store per simulated device
    embeddings.npz     every data-set text's embedding, computed once for all devices
    head.npz, ledger.json, metrics.sqlite   written by the server as rounds complete

    unseen_users.json  the held-out users' examples (the simulator evaluates on them)

Set-up is built in a hidden sibling folder (``.OUT.setting-up``) and renamed to ``OUT`` when
complete, so a process killed during set-up leaves no half run folder: the next run finds
the sibling, removes it and starts over. A folder left by an older version's killed set-up
(only set-up files, no workspace.json) is likewise started over.

Simulated devices use the cheapest KDF the store allows (8 MiB, 1 pass) so thousands can
be created; a real device uses the default. Their passphrases derive from a per-run secret
in workspace.json: it simulates many people's keys on one machine and is nothing a real
deployment has.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from client.embedding.factory import default_embedder
from client.embedding.manifest import default_cache_dir
from client.persona import AttributeKind
from client.profile import Profile
from client.store.folders import make_folder
from models.embedding_cache import EmbeddingCache
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams
from server.run_folder import RunFolder
from server.run_settings import RunSettings
from simulation.conversation_records import write_conversation_records
from simulation.populations import ClientData, PopulationData
from simulation.simulated_devices import RUN_DIR_ENV as RUN_DIR_ENV
from simulation.simulated_devices import WORKSPACE_FILE, SimulatedDevices

# What set-up writes before workspace.json; a folder holding only these is unfinished.
SETUP_FILES = frozenset({"settings.json", "clients", "embeddings.npz", "unseen_users.json"})


class WorkspaceMismatchError(ValueError):
    """An existing run folder was made with other settings; resuming would mix runs."""


@dataclass(frozen=True)
class Workspace(RunFolder):
    """A simulation's run folder: what the server writes, plus the simulated devices."""

    devices: SimulatedDevices

    @property
    def unseen_path(self) -> Path:
        return self.root / "unseen_users.json"

    @classmethod
    def load(cls, root: Path) -> Workspace:
        return cls(root=root, devices=SimulatedDevices.load(root))


def simulated_device_kdf() -> KdfParams:
    return KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS)


def open_workspace(
    root: Path, settings: RunSettings, population: Callable[[], PopulationData]
) -> Workspace:
    """The run folder at ``root``, set up first (``population`` loaded) only if it is not."""
    if (root / WORKSPACE_FILE).is_file():
        _check_same_settings(root, settings)
        return Workspace.load(root)
    return prepare_workspace(root, settings, population())


def check_out_folder(root: Path, settings: RunSettings) -> None:
    """Refuse, before any set-up work, a run folder this run could not use.

    Raises WorkspaceMismatchError for a run with other settings or a folder that holds
    something else, and OSError where the folder cannot be made or written.
    """
    if (root / WORKSPACE_FILE).is_file():
        _check_same_settings(root, settings)
        _probe_writable(root)  # resuming writes the head, the ledger and the metrics
        return
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(root))
    if root.is_dir() and any(root.iterdir()) and not _is_unfinished_setup(root):
        raise WorkspaceMismatchError(
            f"{root} is not empty and holds no run; use a new --out folder"
        )
    make_folder(root.parent)
    _probe_writable(root.parent)


def prepare_workspace(root: Path, settings: RunSettings, population: PopulationData) -> Workspace:
    """Create the run folder (or check an existing one matches ``settings``)."""
    if (root / WORKSPACE_FILE).is_file():
        _check_same_settings(root, settings)
        return Workspace.load(root)
    check_out_folder(root, settings)
    staging = root.parent / f".{root.name}.setting-up"
    shutil.rmtree(staging, ignore_errors=True)  # left by a set-up that was killed
    staging.mkdir()
    _set_up(staging, settings, population)
    if root.is_dir():
        shutil.rmtree(root)  # empty, or an older version's unfinished set-up
    os.replace(staging, root)
    return Workspace.load(root)


def _set_up(root: Path, settings: RunSettings, population: PopulationData) -> None:
    encoder = default_embedder(export_if_missing=True)
    shared = EmbeddingCache(
        default_cache_dir() / "embeddings" / f"{encoder.name}.npz", encoder.name, encoder.embed
    )
    devices = SimulatedDevices(root=root, secret=secrets.token_hex(32), encoder=encoder.name)
    EmbeddingCache(devices.embeddings_path, encoder.name, shared)(sorted(population.texts()))
    seed_stores(devices, population.clients)
    workspace = Workspace(root=root, devices=devices)
    settings.save(workspace.settings_path)
    workspace.unseen_path.write_text(json.dumps([asdict(e) for e in population.unseen_users]))
    # Written last: its presence marks a complete set-up.
    (root / WORKSPACE_FILE).write_text(
        json.dumps(
            {
                "secret": devices.secret,
                "encoder": encoder.name,
                "population": population.name,
                "clients": len(population.clients),
            },
            indent=2,
        )
    )


def _check_same_settings(root: Path, settings: RunSettings) -> None:
    saved = RunSettings.load(root / "settings.json")
    if saved != settings:
        raise WorkspaceMismatchError(
            f"{root} holds a run with other settings; use a new --out folder "
            f"(differs in: {_differences(saved.to_json(), settings.to_json())})"
        )


def _is_unfinished_setup(root: Path) -> bool:
    return {entry.name for entry in root.iterdir()} <= SETUP_FILES


def _probe_writable(folder: Path) -> None:
    """Create and remove a folder in ``folder``: the OSError a write there would raise."""
    try:
        os.rmdir(tempfile.mkdtemp(dir=folder, prefix=".probe-"))
    except OSError as error:
        if error.errno == errno.ENOENT:  # the folder is there but takes no new entries (/proc)
            raise PermissionError(errno.EPERM, "takes no new files", str(folder)) from error
        raise OSError(error.errno, error.strerror, str(folder)) from error


# Below this many devices the stores are seeded in this process: starting workers (a fresh
# interpreter each, importing the store code) costs more than it saves.
PARALLEL_SEEDING_FROM = 200


def seed_stores(
    devices: SimulatedDevices,
    clients: Sequence[ClientData],
    *,
    workers: int | None = None,
    parallel_from: int = PARALLEL_SEEDING_FROM,
) -> None:
    """Seed every simulated device's store, on every core for a large population.

    Why processes: seeding is CPU-bound Python (key derivation, sealing, SQLite), each store
    is its own file, and a 1,000-device set-up took longer than most of the run's rounds.
    Workers are spawned (not forked: the parent holds the encoder's threads) and take one
    store at a time, each first checking that this process still lives, so that a set-up
    killed midway stops writing within one store (the next set-up starts over in the same
    staging folder). Spawned workers import the caller's main module, so a script that sets
    up a large population needs the usual ``if __name__ == "__main__":`` guard.
    """
    jobs = [(devices.store_path(i), devices.passphrase(i), c) for i, c in enumerate(clients)]
    count = workers if workers is not None else os.cpu_count() or 1
    if count <= 1 or len(jobs) < parallel_from:
        for job in jobs:
            seed_store(*job)
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        for _ in pool.map(_seed_for, jobs, [os.getpid()] * len(jobs)):
            pass  # map re-raises a worker's error here


def _seed_for(job: tuple[Path, str, ClientData], parent: int) -> None:
    if os.getppid() != parent:  # the set-up was killed: write nothing more
        raise RuntimeError(f"set-up process {parent} has ended; not seeding {job[0]}")
    seed_store(*job)


def seed_store(path: Path, passphrase: str, client: ClientData) -> None:
    """Create one simulated device's encrypted store holding its user's data."""
    with (
        Profile.create(path, passphrase, kdf=simulated_device_kdf()) as profile,
        profile.store.transaction().write(),
    ):
        for category, name, value, kind in client.persona:
            profile.persona.observe(
                category,
                name,
                value,
                kind=AttributeKind(kind),
                confidence=1.0,
                at=0.0,
            )
        for pair in client.train + client.evaluation:
            profile.training.add(pair)
        write_conversation_records(profile, client.records)


def _differences(old: dict[str, Any], new: dict[str, Any]) -> str:
    return ", ".join(sorted(k for k in old if old.get(k) != new.get(k))) or "nothing"
