"""Seeding many simulated devices' stores in worker processes gives the same stores."""

from __future__ import annotations

from pathlib import Path

from client.profile import Profile
from simulation.populations import synthetic_population
from simulation.run_workspace import seed_stores
from simulation.simulated_devices import SimulatedDevices


def contents(devices: SimulatedDevices, count: int) -> list[tuple[dict[str, int], list[str]]]:
    """Each store's record counts and persona values, opened with its own passphrase."""
    seen = []
    for index in range(count):
        with Profile.open(devices.store_path(index), devices.passphrase(index)) as profile:
            persona = profile.persona.attributes()
            values = sorted(f"{a.category}/{a.name}={a.value}" for a in persona)
            seen.append((profile.counts(), values))
    return seen


def test_stores_seeded_by_two_workers_equal_those_seeded_in_process(tmp_path: Path):
    population = synthetic_population(5, seed=1)
    serial = SimulatedDevices(root=tmp_path / "serial", secret="s1", encoder="e")
    parallel = SimulatedDevices(root=tmp_path / "parallel", secret="s2", encoder="e")
    for devices in (serial, parallel):
        (devices.root / "clients").mkdir(parents=True)

    seed_stores(serial, population.clients, workers=1)
    seed_stores(parallel, population.clients, workers=2, parallel_from=1)

    assert contents(parallel, 5) == contents(serial, 5)
    assert all(counts["training_pairs"] > 0 for counts, _ in contents(parallel, 5))
