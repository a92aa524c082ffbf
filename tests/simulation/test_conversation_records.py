"""Simulated devices hold the memories and prompt records their conversations would leave."""

from __future__ import annotations

from pathlib import Path

from client.monitoring import device_monitoring
from client.profile import Profile
from client.prompt_use import PromptUses
from simulation.conversation_records import conversation_records
from simulation.population import TurnKind, generate_population
from simulation.populations import synthetic_population
from simulation.run_workspace import seed_store


def test_records_follow_the_labelled_turns_of_the_training_sessions() -> None:
    (user,) = generate_population(1, seed=3, sessions_per_user=6)
    values = {(c, n): v for c, n, v, _ in user.persona_rows(session=0)}

    records = conversation_records(user, values, range(4))

    requests = [
        t for s in user.sessions[:4] for t in s.turns if t.kind is TurnKind.RECOMMEND and t.label
    ]
    assert len(records.prompts) == len(requests) > 0
    assert all(d.session < 4 for d in records.disclosures)
    assert all(values[d.key] for d in records.disclosures)  # only the seeded values
    disliked = [
        t for s in user.sessions[:4] for t in s.turns if t.feedback and not t.feedback.liked
    ]
    assert sum(p.disliked for p in records.prompts) == len(disliked)


def test_a_seeded_synthetic_store_gives_real_monitoring_values(tmp_path: Path) -> None:
    population = synthetic_population(4, seed=0)
    client = population.clients[0]
    path = tmp_path / "device.fpstore"

    seed_store(path, "passphrase", client)

    with Profile.open(path, "passphrase") as profile:
        uses = PromptUses(profile.store).all()
        values = device_monitoring(profile, [])
        evidence = [a for a in profile.persona.attributes() if a.evidence]
    assert len(uses) == len(client.records.prompts)
    assert sum(u.corrected for u in uses) == sum(p.disliked for p in client.records.prompts)
    assert len(evidence) == len({d.key for d in client.records.disclosures})
    assert values["prompted"] == 1.0
    assert values["persona_coverage"] > 0.0
    assert 0.0 < values["persona_depth"] < 1.0
    assert 0.0 < values["justification"] <= 1.0
