"""bench.prefeval_implicit: the implicit forms joined with their questions, and a device
that stores a choice and answers from it (a small fixture written here)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bench.prefeval_implicit import form_scores
from bench.prefeval_implicit_data import load_implicit, stored_persona
from client.embedding import OnnxEmbedder
from models.data.locations import DataFormatError

QUESTION = "Can you suggest some great hotels for my trip to Las Vegas?"
PREFERENCE = "I avoid hotels with a bustling nightlife atmosphere."
MCQ_OPTIONS = [
    "The Vdara, a tranquil non-gaming spa resort.",
    "The Cosmopolitan, featuring vibrant nightclubs.",
    "The MGM Grand, with its lively casino and party atmosphere.",
    "The Palms Casino Resort, known for its high-energy nightlife.",
]
OFFER = (
    "Here are a few to consider:\n1. The Palms is known for its pool parties and nightlife.\n"
    "2. The Westin offers a tranquil spa away from the hustle and bustle.\n"
    "3. The MGM Grand has a lively casino and nightclubs."
)


def _write(root: Path, *, question: str = QUESTION) -> None:
    base = {"preference": PREFERENCE, "question": question, "explanation": ""}
    files = {
        "mcq_options": [{**base, "question": QUESTION, "classification_task_options": MCQ_OPTIONS}],
        "implicit_preference/choice-based": [
            {
                **base,
                "conversation": {
                    "query": "What are some good hotels in Las Vegas?",
                    "assistant_options": OFFER,
                    "user_selection": "I'll go with the Westin. The others seem too loud for me.",
                    "assistant_acknowledgment": "Understood.",
                },
            }
        ],
        "implicit_preference/persona-driven": [
            {
                **base,
                "conversation": {
                    str(k): {"user": f"user turn {k}", "assistant": f"reply {k}"}
                    for k in (0, 1, 10, 2)
                },
            }
        ],
    }
    for folder, records in files.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "travel_hotel.json").write_text(json.dumps(records), encoding="utf-8")


def test_the_forms_are_joined_with_the_explicit_rows_question_and_shuffle(tmp_path):
    _write(tmp_path)

    talk = load_implicit(tmp_path, "persona-driven", seed=3)[0]
    choice = load_implicit(tmp_path, "choice-based", seed=3)[0]

    assert [t for _, t in talk.turns[::2]] == [f"user turn {k}" for k in (0, 1, 2, 10)]
    assert [r for r, _ in choice.turns] == ["user", "assistant", "user", "assistant"]
    assert choice.mcq.options == talk.mcq.options
    assert choice.mcq.options[choice.mcq.gold] == MCQ_OPTIONS[0]


def test_a_record_out_of_step_with_its_question_is_refused(tmp_path):
    _write(tmp_path, question="Another question entirely?")

    with pytest.raises(DataFormatError, match="record order"):
        load_implicit(tmp_path, "choice-based", seed=0)


def test_a_device_stores_the_choice_and_the_stance_scorer_follows_it(
    tmp_path, onnx_embedder: OnnxEmbedder
):
    _write(tmp_path)
    item = load_implicit(tmp_path, "choice-based", seed=0)[0]

    stored = stored_persona(item.turns, onnx_embedder, tmp_path)
    scores = form_scores([item], [stored], onnx_embedder)

    assert any(any(c.stance.negative for c in s) for s in stored.stances)
    assert not any(PREFERENCE in fact for fact in stored.facts)
    assert int(np.argmax(scores["stance_stored"][0])) == item.mcq.gold
