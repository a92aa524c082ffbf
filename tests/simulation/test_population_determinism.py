"""Generation is a pure function of the seed, and its personas fit a real encrypted persona."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from client.persona import AttributeKind
from simulation.population.generator import PopulationConfig, generate_population
from simulation.population.personas import PersonaShape
from tests.conftest import REPO_ROOT


def test_the_same_seed_gives_identical_users():
    first = generate_population(25, seed=11)

    second = generate_population(25, seed=11)

    assert first == second


def test_different_seeds_give_different_users():
    first = generate_population(25, seed=11)

    second = generate_population(25, seed=12)

    assert [u.persona for u in first] != [u.persona for u in second]
    assert sum(a.persona == b.persona for a, b in zip(first, second, strict=True)) == 0


def test_a_user_does_not_depend_on_how_many_users_are_generated():
    small = generate_population(5, seed=3)

    large = generate_population(40, seed=3)

    assert large[:5] == small


def test_bad_settings_are_refused_with_the_value_named():
    with pytest.raises(ValueError, match="-1"):
        generate_population(-1, seed=0)
    with pytest.raises(ValueError, match="sessions_per_user"):
        PopulationConfig(sessions_per_user=0)
    with pytest.raises(ValueError, match="strata ratio"):
        PersonaShape(ratio=(1.0, -1.0, 1.0))


def test_persona_rows_seed_a_real_encrypted_persona(profile):
    user = generate_population(1, seed=5)[0]
    rows = user.persona_rows(session=0)

    for category, name, value, kind in rows:
        profile.persona.observe(category, name, value, kind=AttributeKind(kind))

    expected: dict[str, dict[str, str]] = {}
    for category, name, value, _ in rows:
        expected.setdefault(category, {})[name] = value
    assert profile.persona.profile() == expected
    assert profile.persona.count() == len(rows)


def test_generation_does_not_depend_on_the_python_hash_seed():
    script = (
        "import hashlib; from simulation.population import generate_population; "
        "print(hashlib.sha256(repr(generate_population(20, seed=4)).encode()).hexdigest())"
    )

    digests = {
        subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO_ROOT), "PYTHONHASHSEED": hash_seed},
            timeout=120,
        ).stdout
        for hash_seed in ("1", "2")
    }

    assert len(digests) == 1
