"""Simulated devices learn their persona through the memory engine, from their own sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.memory_engine import EngineConfig, ExtractiveSummariser, WordPieceCounter
from simulation.population import ChangeKind, device_learning, generate_population
from simulation.population.device_learning import TableEmbedder, learn_persona, learned_personas
from simulation.populations import synthetic_population


@pytest.fixture
def embedder(onnx_embedder) -> TableEmbedder:
    return TableEmbedder(onnx_embedder.embed, onnx_embedder.name, onnx_embedder.dimension)


def _values(rows) -> list[str]:
    return [str(value).lower() for _, _, value, _ in rows]


def test_a_scheduled_change_reaches_the_device_through_what_the_user_said(embedder, tmp_path):
    # User 0 of seed 0 says in session 3: "I've gone off road trips lately; beach and
    # sun is more my thing now." The persona a device was seeded with before (session 0's)
    # still holds road trips.
    (user,) = generate_population(1, seed=0)
    (change,) = [c for c in user.schedule if c.kind is ChangeKind.REPLACE]
    assert (change.session, change.old, change.new) == (3, "road trips", "beach and sun")
    assert "road trips" in _values(user.persona_rows(session=0))

    before = learn_persona(user, range(3), embedder, tmp_path / "before")
    after = learn_persona(user, range(4), embedder, tmp_path / "after")

    assert not any("beach and sun" in v for v in _values(before))
    assert any("beach and sun" in v for v in _values(after))
    assert not any("road trips" in v for v in _values(after))


def test_learned_personas_are_read_back_from_the_cache(embedder, tmp_path, monkeypatch):
    users = generate_population(2, seed=3)
    first = learned_personas(users, range(3), lambda: embedder, tmp_path)

    def must_not_learn(*args: object) -> None:
        raise AssertionError("learned again although the cache holds these users")

    monkeypatch.setattr(device_learning, "learn_persona", must_not_learn)
    again = learned_personas(users, range(3), lambda: embedder, tmp_path)

    assert again == first
    assert all(first)  # each device learned something by the k-session update (k = 3)
    with pytest.raises(AssertionError, match="learned again"):
        learned_personas(users, range(4), lambda: embedder, tmp_path)  # other sessions: not cached


def test_a_synthetic_device_holds_its_learned_persona_and_evidence_keys_match_it(
    monkeypatch, encoder_cache: Path
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    population = synthetic_population(3, seed=0, learn_personas=True)

    for client, user in zip(population.clients, generate_population(3, seed=0), strict=True):
        learned = {(c, n) for c, n, _, _ in client.persona}
        gold = {(c, n) for c, n, _, _ in user.persona_rows(session=0)}
        assert learned != gold
        assert {d.key for d in client.records.disclosures} <= learned


def test_the_light_learning_config_learns_what_the_default_engine_learns(embedder, tmp_path):
    # The simulation skips turn items, links and the embedding-ranked summary: none of
    # them may change the persona a device learns.
    (user,) = generate_population(1, seed=2)

    light = learn_persona(user, range(4), embedder, tmp_path / "light")
    full = learn_persona(
        user,
        range(4),
        embedder,
        tmp_path / "full",
        config=EngineConfig(),
        summariser=ExtractiveSummariser(embedder, WordPieceCounter()),
    )

    assert light
    assert light == full
