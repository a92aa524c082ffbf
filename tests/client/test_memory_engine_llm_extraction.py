"""The LLM extractor against a local server speaking the real protocol: strict JSON checks,
grounding in the user's words, and the rules whenever the answer cannot be used."""

from __future__ import annotations

from typing import Any

import pytest

from client.memory_engine import Disclosure, RuleExtractor
from client.memory_engine.llm_extraction import INSTRUCTION, LlmExtractor
from client.memory_engine.llm_facts import polarity_error, ungrounded_words
from protocol.persona_schema import AttributeKind
from tests.client.llm_fake_server import Handler, fake_server, free_port, send_json
from tests.client.llm_memory_routes import CHAT, answer_route, facts_json, one_shot

TEXT = "Hi there! I moved to Lisbon last spring. I have two dogs and I don't eat meat."
LISBON = {"category": "demographics", "attribute": "location", "value": "Lisbon", "change": True}


def _extract(answer: str, text: str = TEXT) -> tuple[LlmExtractor, list[Disclosure], list[Any]]:
    with fake_server({CHAT: answer_route(answer)}) as server:
        extractor = LlmExtractor(one_shot(server.url), RuleExtractor())
        found = extractor.extract(text)
    return extractor, found, [s.body for s in server.seen]


def test_grounded_facts_become_disclosures_and_only_the_utterance_is_sent():
    dogs = {"category": "statements", "attribute": "pets", "value": "I have two dogs"}
    diet = {"category": "preferences", "attribute": "diet", "value": "no meat", "confidence": 0.95}
    extractor, found, bodies = _extract(facts_json(LISBON, dogs, diet))

    lisbon, dog_fact, no_meat = found
    assert (lisbon.key, lisbon.value, lisbon.is_change) == ("demographics/location", "Lisbon", True)
    assert lisbon.sentence == "I moved to Lisbon last spring."  # the user's words, not the model's
    assert lisbon.kind is AttributeKind.DYNAMIC
    assert dog_fact.key == "statements/i have two dogs"  # named by its words, as the rules do
    assert no_meat.confidence == 0.8  # a model's confidence is capped at the rules' own
    assert extractor.last is not None
    assert extractor.last.source == "llm"
    (body,) = bodies
    assert body["messages"] == [
        {"role": "system", "content": INSTRUCTION},
        {"role": "user", "content": TEXT},
    ]


def test_a_fenced_json_answer_is_read():
    _, found, _ = _extract("```json\n" + facts_json(LISBON) + "\n```")
    assert [d.value for d in found] == ["Lisbon"]


@pytest.mark.parametrize(
    "template",
    [
        "Here's a JSON representation of the user's message:\n```json\n{}\n```",
        "Sure! {} Hope this helps.",
        "The facts {{}} are: ```\n{}\n``` and that is all.",
    ],
)
def test_json_after_a_sentence_is_read(template):
    extractor, found, _ = _extract(template.format(facts_json(LISBON)))
    assert [d.value for d in found] == ["Lisbon"]
    assert extractor.last is not None
    assert extractor.last.source == "llm"


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**LISBON, "value": "Porto"}, "not in the user's words: porto"),
        ({**LISBON, "replaces": "Madrid"}, "not in the user's words: madrid"),
        ({"category": "interests", "attribute": "dogs", "value": "dislikes dogs"}, "negates"),
        ({"category": "preferences", "attribute": "food", "value": "eats meat"}, "negates"),
        ({**LISBON, "category": "secrets"}, "not in the persona schema"),
        ({**LISBON, "kind": "permanent"}, "kind must be"),
        ({**LISBON, "confidence": 1.5}, "confidence must be"),
        ({**LISBON, "confidence": True}, "confidence must be"),
        ({**LISBON, "change": "yes"}, "change must be true or false"),
        ({**LISBON, "source": "guess"}, "unknown field(s) 'source'"),
        ({"category": "demographics", "attribute": "location"}, "missing field(s) 'value'"),
        ({**LISBON, "value": ""}, "value must be a non-empty string"),
        ({**LISBON, "attribute": "Where They Live!"}, "short lower-case label"),
        ("Lisbon", "must be an object"),
    ],
)
def test_a_malformed_or_ungrounded_item_is_dropped_with_its_reason(item, reason):
    extractor, found, _ = _extract(facts_json(item, {**LISBON, "attribute": "city"}))
    assert [d.key for d in found] == ["demographics/city"]  # the good item is kept
    assert extractor.last is not None
    (dropped,) = extractor.last.dropped
    assert reason in dropped.reason


def test_a_question_is_not_a_disclosure():
    text = "Do you like jazz? I play the cello."
    jazz = {"category": "interests", "attribute": "jazz", "value": "jazz"}
    cello = {"category": "interests", "attribute": "cello", "value": "plays the cello"}
    extractor, found, _ = _extract(facts_json(jazz, cello), text)
    assert [d.value for d in found] == ["plays the cello"]
    assert extractor.last is not None
    assert "not a first-person statement" in extractor.last.dropped[0].reason


def test_when_no_proposed_fact_survives_the_rules_read_the_utterance():
    extractor, found, _ = _extract(facts_json({**LISBON, "value": "Paris"}))
    assert found == RuleExtractor().extract(TEXT)
    assert found  # the rules do find the move
    assert extractor.last is not None
    assert extractor.last.source == "rules"
    assert extractor.last.reason == "no proposed fact passed the checks"


def test_an_empty_list_is_believed():
    extractor, found, _ = _extract(facts_json())
    assert found == []
    assert extractor.last is not None
    assert extractor.last.source == "llm"


def _error(handler: Handler) -> None:
    send_json(handler, 503, {"error": "loading model"})


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("Sure! The user moved to Lisbon.", "not a JSON object"),
        ('{"fact": []}', "expected a 'facts' list"),
        ("[1, 2]", "not a JSON object"),
    ],
)
def test_an_answer_that_is_not_the_format_falls_back_to_the_rules(answer, reason, caplog):
    extractor, found, _ = _extract(answer)
    assert found == RuleExtractor().extract(TEXT)
    assert extractor.last is not None
    assert reason in extractor.last.reason
    assert "read by the offline rules" in caplog.text


def test_a_server_error_falls_back_to_the_rules():
    with fake_server({CHAT: _error}) as server:
        extractor = LlmExtractor(one_shot(server.url), RuleExtractor())
        found = extractor.extract(TEXT)
    assert found == RuleExtractor().extract(TEXT)
    assert extractor.last is not None
    assert "HTTP 503" in extractor.last.reason


def test_grounding_matches_plurals_and_ignores_function_words_only():
    assert ungrounded_words("the dog", "I have two dogs") == []
    assert ungrounded_words("a cat owner", "I have two dogs") == ["cat", "owner"]


@pytest.mark.parametrize(
    ("value", "sentence", "agree"),
    [
        ("no meat", "I don't eat meat.", True),
        ("meat", "I don't eat meat.", False),
        ("not vegan", "I am vegan.", False),
        ("not vegan", "I'm not vegan.", True),
        ("dislikes jazz", "I no longer like jazz.", True),
        ("vegetarian", "I don't eat meat, I'm vegetarian.", True),
        ("dislikes dogs", "I have two dogs and I don't eat meat.", False),
    ],
)
def test_a_value_keeps_the_negation_of_the_users_sentence(value, sentence, agree):
    assert (polarity_error(value, sentence) is None) is agree


def test_an_absent_server_is_warned_about_once_and_not_asked_again(caplog):
    extractor = LlmExtractor(one_shot(f"http://127.0.0.1:{free_port()}/v1"), RuleExtractor())
    for _ in range(3):
        assert extractor.extract(TEXT) == RuleExtractor().extract(TEXT)
    assert extractor.last is not None
    assert extractor.last.reason.startswith("not asked: Cannot reach")
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1
