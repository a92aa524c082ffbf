"""The persona's stance (models.stance) in the stored schema and in the memory validator."""

from __future__ import annotations

from client.memory_engine import EngineConfig, MemoryEngine
from client.memory_engine.validator import against_stance
from client.persona import PersonaAttribute
from models.stance import Stance, StanceClause
from protocol.persona_schema import STATEMENTS


def test_an_attribute_carries_its_stance_and_an_old_record_still_loads() -> None:
    attribute = PersonaAttribute(category=STATEMENTS, name="food", value="I can't stand olives")
    stored = attribute.to_json()
    assert stored["stance"] == [{"stance": "avoids", "object": "olives"}]
    assert PersonaAttribute.from_json(stored).clauses == (StanceClause(Stance.AVOIDS, "olives"),)
    older = {k: v for k, v in stored.items() if k != "stance"}  # written before stances
    assert PersonaAttribute.from_json(older).stance is None
    assert PersonaAttribute.from_json(older).clauses == attribute.clauses


def test_a_changed_value_gets_the_new_values_stance(profile) -> None:
    persona = profile.persona
    persona.observe(STATEMENTS, "drinks", "I love coffee")
    persona.observe(STATEMENTS, "drinks", "I avoid caffeine")
    current = persona.get(STATEMENTS, "drinks")
    assert current is not None
    assert [c.stance for c in current.clauses] == [Stance.AVOIDS]


def test_against_stance_names_the_avoided_thing_but_not_its_negation() -> None:
    avoided = [StanceClause(Stance.CANNOT, "peanuts")]
    reason = against_stance("The peanut satay at Joe's is great", avoided)
    assert reason is not None
    assert "peanut" in reason
    assert "cannot have" in reason
    assert against_stance("Joe's makes peanut-free satay", avoided) is None
    assert against_stance("I'm allergic to peanuts, remember", avoided) is None
    assert against_stance("The satay at Joe's is great", ()) is None


def test_the_validator_drops_a_memory_that_names_what_the_persona_cannot_have(
    profile, onnx_embedder
) -> None:
    profile.persona.observe(STATEMENTS, "diet", "I have a severe shellfish allergy")
    engine = MemoryEngine(profile, onnx_embedder, config=EngineConfig(relevance_floor=0.0))
    for line in [
        "The lobster rolls at Harbour Grill are the best in town.",
        "Harbour Grill also does a great mushroom risotto.",
    ]:
        engine.add_turn("s1", line)
    engine.end_session("s1")

    retrieval = engine.retrieve("What should I order at Harbour Grill?")

    lobster = [t for t in retrieval.trace if "lobster" in t.text]
    assert lobster
    assert all(not t.kept and "cannot have" in t.reason for t in lobster)
    assert any("risotto" in m.text for m in retrieval.memories)


def test_the_validator_ranks_a_merely_avoided_thing_last(profile, onnx_embedder) -> None:
    profile.persona.observe(STATEMENTS, "music", "I can't stand jazz")
    engine = MemoryEngine(profile, onnx_embedder, config=EngineConfig(relevance_floor=0.0, top_k=1))
    for line in [
        "The Blue Room has live jazz every Friday night.",
        "The Blue Room also hosts a folk night on Sundays.",
    ]:
        engine.add_turn("s1", line)
    engine.end_session("s1")

    retrieval = engine.retrieve("Which night should I go to the Blue Room for jazz?")

    assert [m.text for m in retrieval.memories] == [
        "The Blue Room also hosts a folk night on Sundays."
    ]
    (jazz,) = [t for t in retrieval.trace if "jazz every" in t.text]
    assert not jazz.kept
    assert "ranked last" in jazz.reason
    assert "avoids" in jazz.reason


def test_persona_learning_fills_the_stance_from_what_was_said(profile, onnx_embedder) -> None:
    engine = MemoryEngine(profile, onnx_embedder)
    engine.remember("I hate olives.")
    engine.remember("I'm allergic to sesame.")

    clauses = {c for a in profile.persona.attributes() for c in a.clauses}

    assert StanceClause(Stance.AVOIDS, "olives") in clauses
    assert StanceClause(Stance.CANNOT, "sesame") in clauses


def _shellfish_allergic_engine(profile, embedder, lobster_speaker: str) -> MemoryEngine:
    """A persona allergic to shellfish and one session about Harbour Grill's lobster rolls."""
    profile.persona.observe(STATEMENTS, "diet", "I have a severe shellfish allergy")
    engine = MemoryEngine(profile, embedder, config=EngineConfig(relevance_floor=0.0))
    engine.add_turn("s1", f"{lobster_speaker} at Harbour Grill are the best in town.")
    engine.add_turn("s1", "Harbour Grill also does a great mushroom risotto.")
    engine.end_session("s1")
    return engine


def test_a_question_about_what_was_said_keeps_the_avoided_memory(profile, onnx_embedder) -> None:
    # The stance gate acts on requests only: recalling what was said needs those memories.
    engine = _shellfish_allergic_engine(profile, onnx_embedder, "The lobster rolls")

    recalled = engine.retrieve("What did I say about the lobster rolls at Harbour Grill?")
    requested = engine.retrieve("What should I order at Harbour Grill?")

    assert recalled.memories
    assert "lobster" in recalled.memories[0].text
    assert all("lobster" not in m.text for m in requested.memories)


def test_a_question_about_what_someone_else_recommends_keeps_the_avoided_memory(
    profile, onnx_embedder
) -> None:
    # "recommend" is a request cue, but the question asks what Joanna said, not for the
    # user's choice (models.stance_stage.is_request): the gate must not act.
    engine = _shellfish_allergic_engine(profile, onnx_embedder, "Joanna: the lobster rolls")

    about_joanna = engine.retrieve("What does Joanna recommend at Harbour Grill?")

    assert any("lobster" in m.text for m in about_joanna.memories)
