"""The stance parser and the negated-mention rule, on sentences written for these tests."""

from __future__ import annotations

import pytest

from models.stance import Stance, StanceClause, parse_stance
from models.stance_cues import DIET_EXCLUSIONS
from models.stance_mentions import mention, without_negated


def stances(text: str) -> list[tuple[str, str]]:
    return [(c.stance.value, c.object) for c in parse_stance(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I really love hiking in the mountains.", [("likes", "hiking in the mountains")]),
        ("I enjoy jazz", [("likes", "jazz")]),
        ("I prefer window seats", [("prefers", "window seats")]),
        ("I can't stand reality shows.", [("avoids", "reality shows")]),
        ("I try to avoid crowded beaches because they stress me", [("avoids", "crowded beaches")]),
        ("I'm not a big fan of horror films", [("avoids", "horror films")]),
        ("Loud bars are not for me.", [("avoids", "loud bars")]),
        ("I find podcasts boring", [("avoids", "podcasts")]),
        ("Sequels don't interest me", [("avoids", "sequels")]),
        ("Board games don't really appeal to me", [("avoids", "board games")]),
        ("That venue seems a bit too noisy for my taste.", [("avoids", "noisy")]),
        ("These shoes are too formal", [("avoids", "formal")]),
    ],
)
def test_likes_and_avoids(text: str, expected: list[tuple[str, str]]) -> None:
    assert stances(text) == expected


def test_a_negated_aversion_is_not_an_avoidance() -> None:
    assert stances("I don't mind long train rides") == [("likes", "long train rides")]
    assert stances("I'm fine with early flights") == [("likes", "early flights")]


def test_prefer_a_over_b_and_a_rather_than_b() -> None:
    assert stances("I prefer tea over coffee") == [("prefers", "tea"), ("avoids", "coffee")]
    assert stances("I'd rather take the bus than drive")[0][0] == "prefers"
    assert stances("I cook at home rather than order takeaway") == [
        ("prefers", "i cook at home"),
        ("avoids", "order takeaway"),
    ]


def test_a_liked_thing_without_something_adds_the_avoidance() -> None:
    assert ("avoids", "adverts") in stances("I prefer apps without adverts")


def test_allergies_and_intolerances_are_cannot() -> None:
    assert stances("My daughter is allergic to strawberries") == [("cannot", "strawberries")]
    assert stances("I can't eat shellfish.")[0] == ("cannot", "shellfish")
    assert stances("I have a severe sesame allergy") == [("cannot", "sesame")]
    assert stances("I'm terrified of spiders") == [("cannot", "spiders")]


def test_x_free_diet_and_named_diets() -> None:
    assert stances("I keep a dairy-free diet") == [("cannot", DIET_EXCLUSIONS["dairy"])]
    assert stances("I buy fragrance-free soap") == [("avoids", "fragrance")]
    assert stances("We are vegetarian") == [("cannot", DIET_EXCLUSIONS["vegetarian"])]
    assert stances("I keep kosher") == [("cannot", DIET_EXCLUSIONS["kosher"])]


def test_structured_attributes_as_the_memory_engine_writes_them() -> None:
    assert stances("olives: dislikes") == [("avoids", "olives")]
    assert stances("hiking: likes") == [("likes", "hiking")]
    assert stances("favourite food: pizza") == [("likes", "pizza")]
    assert stances("diet: no meat") == [("cannot", "meat")]
    assert stances("diet: vegan") == [("cannot", DIET_EXCLUSIONS["vegan"])]
    assert stances("home town: leeds") == []


def test_a_plain_fact_has_no_stance_and_clauses_round_trip() -> None:
    assert parse_stance("I have two cats and a garden") == ()
    clause = StanceClause(Stance.CANNOT, "peanuts")
    assert StanceClause.from_json(clause.to_json()) == clause
    with pytest.raises(ValueError, match="maybe"):
        StanceClause.from_json({"stance": "maybe", "object": "x"})


@pytest.mark.parametrize(
    ("candidate", "thing"),
    [
        ("Try the gluten-free pizza at Nico's", "gluten"),
        ("A quiet inn with non-smoking rooms", "smoking"),
        ("A puzzle game with no microtransactions", "microtransactions"),
        ("Pho without chilli, served mild", "chilli"),
        ("Cookies free of peanuts", "peanuts"),
    ],
)
def test_a_negated_mention_respects_the_avoidance(candidate: str, thing: str) -> None:
    found = mention(candidate, thing)
    assert found.negated
    assert not found.plain


def test_a_plain_mention_violates_and_compounds_count() -> None:
    assert mention("Satay with peanut sauce", "nuts").plain
    assert mention("A spicy curry", "spicy food").plain
    assert mention("gluten-free bread, and a regular gluten loaf", "gluten").plain
    assert not mention("A walk in the park", "nuts").plain


def test_without_negated_drops_the_negated_words_only() -> None:
    assert without_negated("Gluten-free pasta with pesto") == "pasta with pesto"
    assert without_negated("A room without carpets, near the sea") == "A room , near the sea"


# Indirect forms of an aversion, as people say them in passing in a chat (issue 13,
# PrefEval persona-driven); each sentence was written for this test.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I've never been a fan of opera.", ("avoids", "opera")),
        ("Strong perfume gives me headaches.", ("avoids", "strong perfume")),
        ("Boat trips make me feel queasy.", ("avoids", "boat trips")),
        ("Karaoke isn't really my thing.", ("avoids", "karaoke")),
        ("I don't really follow motor racing.", ("avoids", "motor racing")),
        ("I have concerns about budget airlines.", ("avoids", "budget airlines")),
        ("I find open-plan offices exhausting.", ("avoids", "open-plan offices")),
    ],
)
def test_indirect_aversions(text: str, expected: tuple[str, str]) -> None:
    assert expected in stances(text)


def test_what_a_preferred_thing_leaves_out_is_avoided() -> None:
    assert ("avoids", "motorway") in stances("I usually prefer routes away from the motorway")
    assert ("avoids", "heavy lifting") in stances(
        "I prefer chores that don't involve too much heavy lifting"
    )
    assert ("avoids", "sugary drinks") in stances("I'd rather have less sugary drinks")


def test_a_reason_clause_states_its_own_stance() -> None:
    assert stances("I usually order the salad since I don't handle fried food well.") == [
        ("avoids", "fried food")
    ]
    assert ("avoids", "loud bars") in stances(
        "I prefer small cafes, as I absolutely avoid loud bars."
    )


def test_prefer_not_to_is_an_avoidance_only() -> None:
    assert stances("I'd prefer not to fly overnight.") == [("avoids", "fly overnight")]


def test_a_comparison_splits_at_rather_than_before_to() -> None:
    assert stances("I prefer staying close to home rather than flying abroad") == [
        ("prefers", "staying close to home"),
        ("avoids", "flying abroad"),
    ]


def test_passing_mentions_state_no_stance() -> None:
    assert stances("I'll definitely look into them.") == []
    assert stances("I try to fit more vegetables into our meals.") == []
    assert stances("I've never tried it, but it sounds fun.") == []
    # A diet talked about is not the speaker's own; one kept is.
    assert stances("I've noticed a trend towards plant-based meals.") == []
    assert stances("I adhere to a strict halal diet.") == [("cannot", DIET_EXCLUSIONS["halal"])]
