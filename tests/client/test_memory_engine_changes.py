"""Statements of change: the new value, the old one, the attribute they change.

Every sentence here was written for these tests (none is a synthetic-population template).
"""

from __future__ import annotations

import pytest

from client.embedding import OnnxEmbedder
from client.memory_engine import EngineConfig, MemoryEngine, RuleExtractor
from client.memory_engine.change_statements import Change, change_of
from client.profile import Profile
from protocol.persona_schema import STATEMENTS

DAY = 86400.0


@pytest.mark.parametrize(
    ("sentence", "new", "old", "label"),
    [
        ("I've gone off jazz lately; hip hop is more my thing now.", "hip hop", "jazz", ""),
        ("I used to love hiking, but these days it's all about cycling.", "cycling", "hiking", ""),
        ("I switched from tea to coffee.", "coffee", "tea", ""),
        ("Not so much espresso any more; I've switched to decaf.", "decaf", "espresso", ""),
        ("I moved on from Python to Rust this year.", "Rust", "Python", ""),
        (
            "My running route is the river path now, not the park.",
            "river path",
            "park",
            "running route",
        ),
        ("I'm into podcasts these days instead of audiobooks.", "podcasts", "audiobooks", ""),
        (
            "My lunch spot has changed: the noodle bar these days instead of the deli.",
            "noodle bar",
            "deli",
            "lunch spot",
        ),
        ("I gave up on sudoku, crosswords are what I do now.", "crosswords", "sudoku", ""),
        ("These days I prefer green tea, not coffee.", "green tea", "coffee", ""),
    ],
)
def test_a_change_statement_names_the_new_and_the_old_value(sentence, new, old, label):
    change = change_of(sentence)
    assert isinstance(change, Change)
    assert (change.new, change.old, change.label) == (new, old, label)
    assert old.lower() not in change.clause.lower()  # the fact says only what holds now
    assert new.lower() in change.clause.lower()


@pytest.mark.parametrize(
    "sentence",
    [
        "I love my dog.",
        "I stopped eating meat.",  # a change, but it names no new value
        "I moved to Lisbon.",
        "I'm not sure about that now.",
        "We went to the lake last weekend.",
    ],
)
def test_sentences_that_do_not_swap_one_value_for_another_are_no_change(sentence):
    assert change_of(sentence) is None


def test_the_extractor_keeps_a_change_whole_and_marks_what_it_replaces():
    (disclosure,) = RuleExtractor().extract(
        "Not so much espresso any more; I've switched to decaf."
    )
    assert disclosure.is_change
    assert disclosure.value == "decaf"
    assert disclosure.replaces == "espresso"
    assert disclosure.sentence == "I've switched to decaf."


def test_a_generic_my_thing_is_value_names_an_attribute():
    (disclosure,) = RuleExtractor().extract("My go-to snack is salted popcorn.")
    assert (disclosure.category, disclosure.name, disclosure.value) == (
        "preferences",
        "go-to snack",
        "salted popcorn",
    )


def test_an_unnamed_change_updates_the_attribute_that_held_the_old_value(
    profile: Profile, onnx_embedder: OnnxEmbedder
):
    engine = MemoryEngine(profile, onnx_embedder, config=EngineConfig(persona_every_k_sessions=1))
    engine.add_turn("s1", "My go-to snack is salted popcorn.", at=10 * DAY)
    engine.end_session("s1")
    engine.add_turn(
        "s2", "I've gone off salted popcorn lately; dried mango is more my thing now.", at=20 * DAY
    )
    report = engine.end_session("s2")

    snack = profile.persona.get("preferences", "go-to snack")
    assert snack is not None
    assert snack.value == "dried mango"
    assert [past.value for past in snack.history] == ["salted popcorn"]
    assert report.persona_changes == 1
    assert not [a for a in profile.persona.attributes(STATEMENTS) if "mango" in str(a.value)]


def test_a_change_whose_old_value_no_attribute_holds_is_kept_in_the_persons_words(
    profile: Profile, onnx_embedder: OnnxEmbedder
):
    engine = MemoryEngine(profile, onnx_embedder, config=EngineConfig(persona_every_k_sessions=1))
    engine.add_turn("s1", "I switched from black tea to coffee.", at=10 * DAY)
    engine.end_session("s1")
    (statement,) = profile.persona.attributes(STATEMENTS)
    assert statement.value == "coffee."
