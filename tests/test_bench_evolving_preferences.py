"""The evolving-preferences probe's answer: from the persona's attribute and its history,
else from memories, on sentences written for this test."""

from __future__ import annotations

from bench.evolving_preferences import Probe, answer
from client.memory_engine import EngineConfig, MemoryEngine
from simulation.population.entities import Change, ChangeKind

DAY = 86400.0
OPTIONS = ("dried mango", "salted popcorn", "dark chocolate", "rice crackers")


def _probe(name: str) -> Probe:
    change = Change(
        session=1,
        kind=ChangeKind.REPLACE,
        category="preferences",
        name=name,
        kind_of_attribute="dynamic",
        old="salted popcorn",
        new="dried mango",
    )
    return Probe(change, OPTIONS)


def _say(engine: MemoryEngine, session: str, line: str, at: float) -> None:
    engine.add_turn(session, line, at=at)
    engine.end_session(session)


def test_the_persona_answers_the_current_and_the_previous_value(profile, onnx_embedder):
    engine = MemoryEngine(profile, onnx_embedder, config=EngineConfig(persona_every_k_sessions=1))
    _say(engine, "s0", "My go-to snack is salted popcorn.", 1 * DAY)
    assert answer(engine, _probe("go_to_snack"))[:2] == ("salted popcorn", "salted popcorn")

    _say(engine, "s1", "I switched from salted popcorn to dried mango.", 2 * DAY)

    assert answer(engine, _probe("go_to_snack")) == ("dried mango", "salted popcorn", "persona")


def test_without_a_matching_attribute_the_memories_answer(profile, onnx_embedder):
    engine = MemoryEngine(profile, onnx_embedder, config=EngineConfig(persona_every_k_sessions=1))
    _say(engine, "s0", "Salted popcorn is what I reach for at the cinema.", 1 * DAY)
    _say(engine, "s1", "I switched from salted popcorn to dried mango.", 2 * DAY)

    current, previous, source = answer(engine, _probe("cinema_snack"))

    assert source == "memories"
    assert (current, previous) == ("dried mango", "salted popcorn")
