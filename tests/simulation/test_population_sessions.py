"""Sessions: ground-truth labels, the ranking task's candidates, feedback, turn variety."""

from __future__ import annotations

import re
from collections import Counter

from simulation.population.entities import TurnKind
from simulation.population.ranking import N_CANDIDATES, iter_rankings
from simulation.population.taxonomy import load_taxonomy
from tests.simulation.factories import population


def _mentions(text: str, cues) -> bool:
    return any(re.search(rf"\b{re.escape(cue)}\b", text) for cue in cues)


def test_every_label_points_at_an_attribute_the_persona_has_at_that_session():
    labelled = 0

    for user in population():
        for session in user.sessions:
            held = {a.key: a.value for a in user.attributes_at(session.index)}
            for turn in session.turns:
                if turn.label is not None:
                    assert held.get(turn.label.key) == turn.label.value, (user.user_id, turn)
                    labelled += 1

    assert labelled > 20 * len(population())


def test_every_retraction_names_a_value_held_just_before_and_gone_after():
    retractions = 0

    for user in population():
        for session in user.sessions:
            for turn in session.turns:
                if turn.retracts is None:
                    continue
                before = {a.key: a.value for a in user.attributes_at(session.index - 1)}
                after = {a.key: a.value for a in user.attributes_at(session.index)}
                assert before.get(turn.retracts.key) == turn.retracts.value
                assert after.get(turn.retracts.key) != turn.retracts.value
                retractions += 1

    assert retractions > 0


def test_the_gold_reply_fits_the_users_value_and_no_other_candidate_does():
    taxonomy = load_taxonomy()

    for item in iter_rankings(population()):
        gold_cues = taxonomy.leaf(*item.label.key).spec(item.label.value).cues
        ranking = item.ranking
        assert _mentions(ranking.candidates[ranking.gold], gold_cues)
        for index, candidate in enumerate(ranking.candidates):
            if index != ranking.gold:
                assert not _mentions(candidate, gold_cues), (candidate, item.label)


def test_rankings_have_twenty_distinct_candidates_with_topical_hard_negatives():
    for item in iter_rankings(population()):
        ranking = item.ranking

        assert len(ranking.candidates) == N_CANDIDATES
        assert len(set(ranking.candidates)) == N_CANDIDATES
        assert ranking.gold in ranking.topical
        assert 3 <= len(ranking.topical) <= 8


def test_gold_positions_are_spread_over_every_slot():
    positions = Counter(item.ranking.gold for item in iter_rankings(population()))

    assert set(positions) == set(range(N_CANDIDATES))
    assert max(positions.values()) < 3 * min(positions.values())


def test_feedback_follows_its_request_and_says_whether_the_gold_reply_was_shown():
    for user in population():
        for session in user.sessions:
            for previous, turn in zip(session.turns, session.turns[1:], strict=False):
                if turn.kind is not TurnKind.FEEDBACK:
                    continue
                assert previous.kind is TurnKind.RECOMMEND
                assert previous.label == turn.label
                assert turn.feedback is not None
                assert previous.ranking is not None
                assert turn.feedback.shown in previous.ranking.topical
                assert turn.feedback.liked == (turn.feedback.shown == previous.ranking.gold)


def test_sessions_mix_every_kind_of_turn_and_disclose_both_ways():
    kinds = Counter(t.kind for u in population() for s in u.sessions for t in s.turns)

    assert set(kinds) == set(TurnKind)
    assert kinds[TurnKind.IMPLICIT] > 0.2 * kinds[TurnKind.EXPLICIT]


def test_most_requests_are_about_something_already_disclosed():
    rankings = [item.ranking for item in iter_rankings(population())]

    disclosed = sum(r.disclosed for r in rankings) / len(rankings)

    assert 0.5 < disclosed < 1.0
