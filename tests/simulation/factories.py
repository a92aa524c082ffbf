"""Small populations shared by the population tests (built once per test session)."""

from __future__ import annotations

from functools import cache

from simulation.population.entities import SyntheticUser
from simulation.population.generator import generate_population

SEED = 20261121


@cache
def population(
    n_users: int = 120, sessions: int = 6, seed: int = SEED
) -> tuple[SyntheticUser, ...]:
    """A deterministic population; cached because several tests read the same one."""
    return tuple(generate_population(n_users, seed=seed, sessions_per_user=sessions))


@cache
def personas_only(
    n_users: int, ratio: tuple[float, float, float] = (5, 3, 2), seed: int = SEED
) -> tuple[SyntheticUser, ...]:
    """Many personas with a single session each: cheap when only personas are tested."""
    return tuple(generate_population(n_users, seed=seed, sessions_per_user=1, strata_ratio=ratio))
