"""Data readers, the reconstructed candidates and the leak-free split, on the real data sets."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from models.data.locations import (
    MSC_SUMMARY_SESSIONS,
    PERSONACHAT_VALID,
    SPC_VALID,
    DataFormatError,
    DataMissingError,
    data_dir,
    require,
)
from models.data.msc import load_msc_session
from models.data.persona_matching import DialogueIndex
from models.data.personachat import Dialogue, load_personachat
from models.data.synthetic_persona_chat import load_spc
from models.extra_data import admissible_training, msc_utterances, spc_utterances
from models.ranking_metrics import (
    expected_hits_and_reciprocal_ranks,
    hits_at_1,
    mean_reciprocal_rank,
)
from models.ranking_task import GOLD, Utterance, build_examples
from models.splits import Timing, first_test_position, split_users, split_utterances


@cache
def _dialogues() -> tuple[Dialogue, ...]:
    return tuple(load_personachat(require(data_dir(), PERSONACHAT_VALID)))


def _utterances(dialogues: tuple[Dialogue, ...]) -> list[Utterance]:
    return [
        Utterance(d.user_id, i, e.context, e.response, d.persona)
        for d in dialogues
        for i, e in enumerate(d.exchanges)
    ]


def test_personachat_has_the_documented_counts():
    dialogues = _dialogues()

    assert len(dialogues) == 1000
    assert sum(len(d.exchanges) for d in dialogues) == 7801
    assert all(3 <= len(d.persona) <= 5 for d in dialogues)


def test_malformed_personachat_line_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("1 your persona: i like tea.\n2 hello there without a tab\n")

    with pytest.raises(DataFormatError, match=r"bad.txt:2"):
        load_personachat(path)
    with pytest.raises(DataMissingError, match="--data-dir"):
        require(tmp_path, PERSONACHAT_VALID)


def test_candidates_exclude_the_gold_and_own_replies_and_are_reproducible():
    utterances = _utterances(_dialogues()[:60])

    first = build_examples(utterances, seed=7)
    again = build_examples(utterances, seed=7)
    other = build_examples(utterances, seed=8)

    assert first == again
    assert first != other
    own_replies: dict[str, set[str]] = {}
    for u in utterances:
        own_replies.setdefault(u.user_id, set()).add(u.response)
    for example, utterance in zip(first, utterances, strict=True):
        assert len(example.candidates) == 20
        assert example.candidates[GOLD] == utterance.response
        distractors = example.candidates[1:]
        assert utterance.response not in distractors
        assert len(set(distractors)) == 19
        assert not set(distractors) & (
            own_replies[utterance.user_id]
            - {
                r
                for other_user, rs in own_replies.items()
                if other_user != utterance.user_id
                for r in rs
            }
        )


def test_split_holds_out_a_fifth_of_users_and_the_later_turns_of_the_rest():
    dialogues = _dialogues()
    users = split_users([d.user_id for d in dialogues], seed=0)

    splits = split_utterances(_utterances(dialogues), users)

    assert len(users.unseen) == 200
    assert not users.seen & users.unseen
    keys = [
        {(u.user_id, u.position) for u in part}
        for part in (splits.train, splits.later_turns, splits.unseen_users)
    ]
    assert not keys[0] & keys[1]
    assert not keys[0] & keys[2]
    assert not keys[1] & keys[2]
    assert sum(map(len, keys)) == 7801
    assert {u.user_id for u in splits.unseen_users} == users.unseen
    last_train: dict[str, int] = {}
    for u in splits.train:
        last_train[u.user_id] = max(last_train.get(u.user_id, -1), u.position)
    assert all(u.position > last_train.get(u.user_id, -1) for u in splits.later_turns)
    assert first_test_position(10) == 7
    assert first_test_position(2) == 1


def test_extra_training_data_never_leaks_held_out_users_or_later_sessions():
    dialogues = _dialogues()
    root = data_dir()
    index = DialogueIndex(dialogues)
    personas = {d.user_id: d.persona for d in dialogues}
    users = split_users(personas, seed=0)
    spc = spc_utterances(load_spc(require(root, SPC_VALID)), index, personas)
    msc = [
        u
        for n, path in enumerate(MSC_SUMMARY_SESSIONS, start=1)
        for u in msc_utterances(load_msc_session(require(root, path), n), index, personas)
    ]

    allowed = admissible_training(spc + msc, users)

    assert {e.timing for e in msc} == {Timing.SAME_DIALOGUE, Timing.AFTER_DIALOGUE}
    assert any(e.utterance.user_id in users.unseen for e in spc)  # the filter has work to do
    assert allowed
    assert all(u.user_id in users.seen for u in allowed)
    assert all(u.source == "spc" for u in allowed)  # MSC is session 1 itself, or later


def test_msc_sessions_match_the_convai2_dialogue_they_continue():
    dialogues = _dialogues()
    sessions = load_msc_session(require(data_dir(), MSC_SUMMARY_SESSIONS[0]), 1)
    index = DialogueIndex(dialogues)

    matched = [index.match(*s.personas) for s in sessions[:50]]

    expected = [f"personachat-{s.pair_id.removeprefix('valid_')}" for s in sessions[:50]]
    hits = sum(m is not None and m.user_id == e for m, e in zip(matched, expected, strict=True))
    assert hits >= 49


def test_ranking_metrics_resolve_ties_by_expected_random_tie_break():
    scores = np.array([[3.0, 1.0, 2.0], [1.0, 2.0, 0.0], [1.0, 1.0, 0.0]])

    hits, reciprocal = expected_hits_and_reciprocal_ranks(scores)

    assert hits.tolist() == [1.0, 0.0, 0.5]
    assert reciprocal.tolist() == pytest.approx([1.0, 0.5, (1 + 0.5) / 2])
    assert hits_at_1(scores) == pytest.approx(0.5)
    assert mean_reciprocal_rank(scores) == pytest.approx((1 + 0.5 + 0.75) / 3)
    assert hits_at_1(scores, np.array([1, 1, 2])) == pytest.approx((0 + 1 + 0) / 3)
