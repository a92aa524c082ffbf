"""Evolving preferences: each scheduled change takes effect exactly at its session."""

from __future__ import annotations

import re

from simulation.population.entities import ChangeKind, SyntheticUser, TurnKind
from simulation.population.generator import generate_population
from simulation.population.ranking import iter_rankings
from simulation.population.taxonomy import load_taxonomy
from tests.simulation.factories import population


def _values(user: SyntheticUser, session: int) -> dict[tuple[str, str], str]:
    return {a.key: a.value for a in user.attributes_at(session)}


def test_every_change_applies_at_its_session_and_not_before():
    users = population()

    for user in users:
        for change in user.schedule:
            before = _values(user, change.session - 1)
            after = _values(user, change.session)
            assert before.get(change.key) == change.old
            assert after.get(change.key) == change.new


def test_between_sessions_exactly_the_scheduled_attributes_change():
    users = population()

    for user in users:
        for session in range(1, len(user.sessions)):
            before = _values(user, session - 1)
            after = _values(user, session)
            differing = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
            scheduled = {c.key for c in user.schedule if c.session == session}
            assert differing == scheduled, (user.user_id, session)


def test_schedules_fall_after_the_first_session_and_use_every_kind():
    users = population()

    kinds = {change.kind for user in users for change in user.schedule}

    assert kinds == set(ChangeKind)
    for user in users:
        assert 1 <= len(user.schedule) <= 3
        assert all(1 <= c.session < len(user.sessions) for c in user.schedule)
        assert len({c.key for c in user.schedule}) == len(user.schedule)


def test_a_single_session_user_has_no_schedule():
    users = generate_population(20, seed=9, sessions_per_user=1)

    assert all(user.schedule == () for user in users)


def test_a_change_is_announced_in_its_session_and_then_asked_about():
    taxonomy = load_taxonomy()

    for user in population():
        for change in user.schedule:
            turns = user.sessions[change.session].turns
            announced = [
                t
                for t in turns
                if t.kind is TurnKind.CHANGE
                and change.key in {ref.key for ref in (t.label, t.retracts) if ref is not None}
            ]
            assert len(announced) == 1
            if change.new is None or not taxonomy.leaf(*change.key).recommendable:
                continue
            later = [
                item
                for item in iter_rankings([user])
                if item.label.key == change.key
                and item.session.index in (change.session, change.session + 1)
            ]
            assert later, (user.user_id, change)


def test_after_a_replacement_the_old_value_is_the_stale_distractor():
    taxonomy = load_taxonomy()
    checked = 0

    for user in population():
        for change in user.schedule:
            if change.kind is not ChangeKind.REPLACE or change.old is None:
                continue
            old_cues = taxonomy.leaf(*change.key).spec(change.old).cues
            for item in iter_rankings([user]):
                if item.label.key == change.key and item.session.index >= change.session:
                    stale = item.ranking.candidates[item.ranking.stale]
                    assert any(re.search(rf"\b{re.escape(c)}\b", stale) for c in old_cues)
                    checked += 1

    assert checked >= 10
