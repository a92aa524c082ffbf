"""The engine's writing side: links on add and forget, the persona schedule, contradictions,
summaries."""

from __future__ import annotations

import pytest

from client.embedding import OnnxEmbedder
from client.memory_engine import EngineConfig, ExtractiveSummariser, MemoryEngine, WordPieceCounter
from client.profile import Profile

DAY = 86400.0


def _engine(profile: Profile, embedder: OnnxEmbedder, **config: object) -> MemoryEngine:
    return MemoryEngine(profile, embedder, config=EngineConfig(**config))  # type: ignore[arg-type]


def _session(engine: MemoryEngine, session_id: str, lines: list[str], at: float) -> None:
    for offset, line in enumerate(lines):
        engine.add_turn(session_id, line, at=at + offset)
    engine.end_session(session_id)


@pytest.fixture
def engine(profile: Profile, onnx_embedder: OnnxEmbedder) -> MemoryEngine:
    return _engine(profile, onnx_embedder, link_count=2)


def _links_are_symmetric(engine: MemoryEngine) -> None:
    stored = {item.id: item for item in engine.profile.memory.items()}
    for item in stored.values():
        for other in item.links:
            assert item.id in stored[other].links
        assert set(item.links) == engine.index.entry(item.id).links


def test_new_items_link_to_their_nearest_and_links_stay_capped(engine):
    lines = [f"I planted {n} tomato plants in my garden this spring." for n in range(2, 9)]
    _session(engine, "s1", [*lines, "My sister works as a pilot for a cargo airline."], 0.0)

    items = engine.profile.memory.items()
    assert len(items) >= 8
    assert all(len(item.links) <= 2 * engine.config.link_count for item in items)
    assert all(item.links for item in items)
    pilot = next(i for i in items if "pilot" in i.text and i.kind == "turn")
    # Its nearest item is the fact written from the same sentence, not a tomato.
    assert any("pilot" in engine.index.entry(other).text for other in pilot.links)
    _links_are_symmetric(engine)


def test_forgetting_an_item_leaves_no_link_index_row_or_evidence(engine):
    _session(
        engine, "s1", ["I live in Porto with my partner.", "I love baking sourdough bread."], 0.0
    )
    engine.update_persona_now()
    doomed = next(
        i for i in engine.profile.memory.items() if i.kind == "fact" and "Porto" in i.text
    )
    assert doomed.links
    assert engine.profile.persona.get("demographics", "location") is not None

    engine.forget(doomed.id)

    assert doomed.id not in engine.index
    assert all(doomed.id not in item.links for item in engine.profile.memory.items())
    location = engine.profile.persona.get("demographics", "location")
    assert location is not None
    assert doomed.id not in location.evidence
    assert all(c.id != doomed.id for c in engine.retrieve("Where do I live?").memories)
    _links_are_symmetric(engine)


def test_persona_updates_every_k_sessions_and_at_once_on_a_change(profile, onnx_embedder):
    engine = _engine(profile, onnx_embedder, persona_every_k_sessions=3)
    _session(engine, "s1", ["I work as a nurse at the city hospital."], 1 * DAY)
    assert profile.persona.attributes() == []
    _session(engine, "s2", ["I just moved to Lisbon last week."], 2 * DAY)
    # An explicit change applies without waiting; the ordinary fact still waits.
    assert profile.persona.get("demographics", "location").value == "Lisbon"
    assert profile.persona.get("demographics", "occupation") is None

    report = None
    for line in ["I really enjoy playing chess on weekends."]:
        engine.add_turn("s3", line, at=3 * DAY)
        report = engine.end_session("s3")

    assert report is not None
    assert report.persona_updated
    assert report.sessions_done == 3
    occupation = profile.persona.get("demographics", "occupation")
    assert occupation is not None
    assert occupation.value == "nurse"
    assert occupation.evidence
    assert profile.memory.get(occupation.evidence[0]) is not None
    assert profile.persona.get("interests", "playing chess").value == "likes"


def test_a_newer_contradicting_value_wins_and_the_old_one_keeps_its_dates(profile, onnx_embedder):
    engine = _engine(profile, onnx_embedder, persona_every_k_sessions=1)
    _session(engine, "s1", ["I live in Porto near the river."], 10 * DAY)
    _session(engine, "s2", ["I moved to Lisbon for a new job."], 20 * DAY)

    location = profile.persona.get("demographics", "location")
    assert location is not None
    assert location.value == "Lisbon"
    (past,) = location.history
    assert past.value == "Porto"
    assert past.since == 10 * DAY
    assert past.until == 20 * DAY
    old_fact = profile.memory.get(past.evidence[0])
    assert old_fact is not None
    assert old_fact.meta["superseded_by"] == location.evidence[0]

    trace = {t.id: t for t in engine.retrieve("Where do I live?").trace}
    assert not trace[old_fact.id].kept
    assert trace[old_fact.id].reason.startswith("superseded")


def test_an_older_statement_applied_late_does_not_undo_a_newer_change(profile, onnx_embedder):
    engine = _engine(profile, onnx_embedder, persona_every_k_sessions=2)
    _session(engine, "s1", ["I live in Porto near the river."], 10 * DAY)
    _session(engine, "s2", ["I moved to Lisbon for a new job."], 20 * DAY)

    assert profile.persona.get("demographics", "location").value == "Lisbon"


def test_session_summary_stays_within_its_budget(profile, onnx_embedder):
    counter = WordPieceCounter()
    summariser = ExtractiveSummariser(onnx_embedder, counter)
    lines = [f"On day {n} I hiked a new trail near the coast and took photos." for n in range(40)]

    for budget in (0, 15, 60, 200):
        summary = summariser.summarise(lines, budget)
        assert counter.count(summary) <= budget
        if budget == 0:
            assert summary == ""
        if budget >= 60:
            assert summary

    engine = _engine(profile, onnx_embedder, summary_budget=40)
    _session(engine, "s1", lines, 0.0)
    (stored,) = profile.memory.summaries()
    assert 0 < counter.count(stored.text) <= 40
    assert stored.turn_count == 40


def test_remember_applies_an_explicit_fact_at_once_and_retrieval_finds_it(engine):
    _session(engine, "s1", ["I live in Porto near the river."], 10 * DAY)

    ids = engine.remember("I moved to Berlin for work.", at=20 * DAY)

    location = engine.profile.persona.get("demographics", "location")
    assert location is not None
    assert location.value == "Berlin"
    assert location.evidence == (ids[0],)
    kept = [m.id for m in engine.retrieve("Which city did I move to?").memories]
    assert ids[0] in kept
    unmapped = engine.remember("Peanuts make me ill.")
    assert engine.profile.persona.get("statements", "peanuts make me ill") is not None
    assert unmapped[0] in engine.index
