"""The choice memory: a pick among offered options is stored with its stance."""

from __future__ import annotations

from client.embedding import OnnxEmbedder
from client.memory_engine import MemoryEngine
from client.memory_engine.choices import CHOICES, choice_in, chosen_option, offered_options
from client.profile import Profile
from models.stance import Stance

LISTED = (
    "Here are a few hotels to consider:\n"
    "1. The Palms is known for its high-energy pool parties and nightlife events.\n"
    "2. The Westin offers a tranquil oasis away from the hustle and bustle.\n"
    "3. The Cosmopolitan is a trendy hotel with a vibrant party atmosphere."
)
INLINE = (
    "There are several good options for lunch. You could have a tuna wrap with cheese, "
    "a fresh salad with raw vegetables and nuts, or a grilled chicken sandwich."
)


def test_options_are_read_from_a_numbered_list_and_from_a_sentence():
    listed = offered_options(LISTED)
    inline = offered_options(INLINE)

    assert [o.split()[1] for o in listed] == ["Palms", "Westin", "Cosmopolitan"]
    assert inline == [
        "have a tuna wrap with cheese",
        "a fresh salad with raw vegetables and nuts",
        "a grilled chicken sandwich",
    ]
    assert offered_options("Sure, I can help with that.") == []


def test_the_pick_is_found_by_number_by_name_and_not_in_a_question():
    options = offered_options(LISTED)

    assert chosen_option("Option 3 sounds good to me.", options) == 2
    assert chosen_option("I'll go with the Westin.", options) == 1
    assert chosen_option("Is the Westin near the airport?", options) is None
    assert chosen_option("Thanks, that helps a lot.", options) is None


def test_a_choice_prefers_the_pick_and_avoids_the_rest_and_the_stated_excess():
    reply = "I'll go with the Westin. The other options seem a bit too lively for my taste."

    choice = choice_in(LISTED, reply, "Which hotels in Las Vegas?")

    assert choice is not None
    clauses = choice.clauses()
    assert clauses[0].stance is Stance.PREFERS
    assert "Westin" in clauses[0].object
    avoided = [c.object for c in clauses if c.stance is Stance.AVOIDS]
    assert any("Palms" in a for a in avoided)
    assert any("Cosmopolitan" in a for a in avoided)
    assert "lively" in avoided  # "the other options" itself is not an avoided thing
    assert not any("other" in a for a in avoided)


def test_the_engine_stores_a_choice_at_the_end_of_the_session(
    profile: Profile, onnx_embedder: OnnxEmbedder
):
    engine = MemoryEngine(profile, onnx_embedder)
    engine.add_turn("s1", "What are some good hotels to stay at in Las Vegas?", at=1.0)
    engine.add_turn("s1", LISTED, role="assistant", at=2.0)
    engine.add_turn("s1", "I'll go with the Westin. The others are too lively for me.", at=3.0)

    engine.end_session("s1")

    stored = profile.persona.attributes(CHOICES)
    assert len(stored) == 1
    assert stored[0].name == "what are some good hotels to stay at in las vegas?"
    assert stored[0].clauses[0].stance is Stance.PREFERS
    assert "Westin" in stored[0].clauses[0].object
    # The validator sees the options passed over as avoidances.
    assert any(c.stance.negative and "Palms" in c.object for c in stored[0].clauses)


def test_a_session_without_an_offer_stores_no_choice(profile: Profile, onnx_embedder):
    engine = MemoryEngine(profile, onnx_embedder)
    engine.add_turn("s1", "I'll go with the Westin, I think.", at=1.0)

    engine.end_session("s1")

    assert profile.persona.attributes(CHOICES) == []
