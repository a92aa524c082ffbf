"""Held-out sets of issue 13 read from the shared data: MSC earlier-session facts, PrefEval."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.generalisation_data import earlier_facts, msc_examples, msc_sessions, msc_utterances
from models.data.locations import PREFEVAL_MCQ, data_dir
from models.data.prefeval import load_prefeval, load_prefeval_topic
from models.encoded import concatenate
from models.training import TrainConfig, hold_out
from tests.models.test_head_and_training import _synthetic


@pytest.fixture(scope="module")
def sessions():
    return msc_sessions(None)


def test_msc_persona_holds_only_facts_revealed_in_earlier_sessions(sessions):
    facts = earlier_facts(sessions)
    by_key = {(s.pair_id, s.session): s for s in sessions}
    first, second = by_key[("valid_0", 1)], by_key[("valid_0", 2)]

    assert facts[("valid_0", 1, 2)] == first.facts[1]
    assert set(facts[("valid_0", 1, 3)]) == set(first.facts[1]) | set(second.facts[1])
    # facts first revealed in session 3 are not in session 3's persona:
    new_in_3 = set(by_key[("valid_0", 3)].facts[1]) - set(first.facts[1] + second.facts[1])
    assert new_in_3
    assert not new_in_3 & set(facts[("valid_0", 1, 3)])


def test_msc_exchanges_answer_the_other_speaker_and_draw_distractors_from_other_pairs(sessions):
    utterances = msc_utterances(sessions, pairs={"valid_0", "valid_1", "valid_2", "valid_3"})
    examples = msc_examples(utterances, seed=0)
    replies = {u.response: u.user_id for u in utterances}

    assert {u.position // 1000 for u in utterances} == {2, 3, 4}
    assert len(examples) == len(utterances)
    for example in examples:
        pair = example.user_id.rsplit("-", 1)[0]
        assert len(example.candidates) == 20
        assert all(replies[c] != pair for c in example.candidates[1:])


def test_prefeval_options_are_shuffled_reproducibly_and_the_gold_is_the_first_in_the_file():
    path = data_dir() / PREFEVAL_MCQ / "travel_hotel.json"
    records = json.loads(path.read_text(encoding="utf-8"))

    items = load_prefeval_topic(path, seed=3)

    assert items == load_prefeval_topic(path, seed=3)
    assert [i.options[i.gold] for i in items] == [
        r["classification_task_options"][0] for r in records
    ]
    assert len({i.gold for i in items}) == 4  # the gold is not always in one place
    assert len(load_prefeval(data_dir() / PREFEVAL_MCQ, seed=0)) == 377


def test_concatenate_pads_candidates_and_facts_and_keeps_rows():
    wide, narrow = _synthetic(n=4, k=6, p=2), _synthetic(n=3, k=4, p=5, seed=1)

    both = concatenate([wide, narrow])

    assert both.candidates.shape == (7, 6, 384)
    assert both.persona.shape == (7, 5, 384)
    assert both.candidate_mask[4:, 4:].sum() == 0
    assert both.persona_mask[:4, 2:].sum() == 0
    np.testing.assert_array_equal(both.candidates[4:, :4], narrow.candidates)


def test_holding_out_groups_keeps_each_user_on_one_side():
    data = _synthetic(n=200)
    groups = [f"user-{i // 5}" for i in range(200)]

    train, validation = hold_out(data, TrainConfig(validation_fraction=0.2), groups)

    assert validation is not None
    assert len(validation) == 40
    assert len(train) == 160
    held = {tuple(row) for row in validation.context[:, :4].round(5).tolist()}
    assert not held & {tuple(row) for row in train.context[:, :4].round(5).tolist()}
