from __future__ import annotations

import numpy as np
import pytest

from client.memory import MemoryItem, SessionSummary, Turn
from client.persona import AttributeKind, EvictionPolicy, PersonaFullError
from client.profile import Profile, ProfileSettings
from client.records import RecordFormatError
from client.store import WrongPassphraseError
from client.store.errors import StoreExistsError, StoreNotFoundError
from client.training_pairs import Signal, TrainingPair
from privacy.kdf import KdfParams
from tests.conftest import PASSPHRASE, fast_kdf


def test_records_survive_close_and_reopen(profile, store_path):
    embedding = np.linspace(-1, 1, 384, dtype=np.float32)
    item = profile.memory.remember(MemoryItem(text="likes jazz", embedding=embedding))
    profile.persona.observe("interests", "music", "jazz", evidence=(item.id,))
    profile.training.add(
        TrainingPair(context="c", candidates=("a", "b"), chosen=1, signal=Signal.THUMBS_UP)
    )
    profile.close()

    with Profile.open(store_path, PASSPHRASE) as reopened:
        got = reopened.memory.get(item.id)
        assert got is not None
        assert got.text == "likes jazz"
        assert got.embedding is not None
        np.testing.assert_array_equal(got.embedding, embedding)
        assert reopened.persona.profile() == {"interests": {"music": "jazz"}}
        assert reopened.training.all()[0].chosen == 1


def test_wrong_passphrase_raises_and_new_store_refuses_to_overwrite(profile, store_path):
    profile.close()

    with pytest.raises(WrongPassphraseError):
        Profile.open(store_path, "not it")
    with pytest.raises(StoreExistsError):
        Profile.create(store_path, PASSPHRASE, kdf=fast_kdf())
    with pytest.raises(StoreNotFoundError):
        Profile.open(store_path.with_name("absent.fpstore"), PASSPHRASE)


def test_persona_change_keeps_history_and_merges_evidence(profile):
    profile.persona.observe(
        "preferences", "coffee", "espresso", confidence=0.6, evidence=("m1",), at=100.0
    )
    profile.persona.observe(
        "preferences", "coffee", "espresso", confidence=0.4, evidence=("m2",), at=150.0
    )
    attribute = profile.persona.observe(
        "preferences", "coffee", "flat white", confidence=0.7, evidence=("m3",), at=200.0
    )

    assert attribute.value == "flat white"
    assert attribute.first_seen == 100.0
    assert attribute.value_since == 200.0
    assert len(attribute.history) == 1
    past = attribute.history[0]
    assert (past.value, past.since, past.until) == ("espresso", 100.0, 200.0)
    assert past.confidence == 0.6
    assert past.evidence == ("m1", "m2")


def test_persona_cap_refuses_by_default(store_path):
    settings = ProfileSettings(max_attributes=3)
    with Profile.create(store_path, PASSPHRASE, kdf=fast_kdf(), settings=settings) as profile:
        for index in range(3):
            profile.persona.observe("interests", f"topic-{index}", "yes")

        with pytest.raises(PersonaFullError, match="3 attributes"):
            profile.persona.observe("interests", "one-more", "yes")
        profile.persona.observe("interests", "topic-0", "still fine")  # updates are not new
        assert profile.persona.count() == 3


def test_persona_cap_evicts_least_confident_dynamic_never_core(store_path):
    settings = ProfileSettings(
        max_attributes=3, eviction=EvictionPolicy.EVICT_LEAST_CONFIDENT_DYNAMIC
    )
    with Profile.create(store_path, PASSPHRASE, kdf=fast_kdf(), settings=settings) as profile:
        profile.persona.observe("demographics", "age", 40, kind=AttributeKind.CORE, confidence=0.1)
        profile.persona.observe("interests", "chess", "yes", confidence=0.3)
        profile.persona.observe("interests", "golf", "yes", confidence=0.8)

        profile.persona.observe("interests", "sailing", "yes", confidence=0.5)

        names = {a.name for a in profile.persona.attributes()}
        assert names == {"age", "golf", "sailing"}


def test_persona_rejects_bad_category_and_confidence(profile):
    with pytest.raises(RecordFormatError, match="snake_case"):
        profile.persona.observe("Bad Category", "x", 1)
    with pytest.raises(RecordFormatError, match="confidence"):
        profile.persona.observe("goals", "x", 1, confidence=1.5)


def test_short_term_turns_are_a_bounded_ring(store_path):
    with Profile.create(
        store_path, PASSPHRASE, kdf=fast_kdf(), settings=ProfileSettings(turn_capacity=4)
    ) as profile:
        for index in range(10):
            profile.memory.add_turn(Turn(session_id="s", role="user", text=f"turn {index}"))

        turns = profile.memory.recent_turns()
        assert [t.text for t in turns] == [f"turn {i}" for i in range(6, 10)]
        assert profile.counts()["turns"] == 4


def test_links_are_kept_on_both_ends_and_summaries_listed(profile):
    first = profile.memory.remember(MemoryItem(text="a"))
    second = profile.memory.remember(MemoryItem(text="b", links=(first.id,)))
    profile.memory.add_summary(SessionSummary(session_id="s1", text="talked", turn_count=3))

    first_again = profile.memory.get(first.id)
    assert first_again is not None
    assert first_again.links == (second.id,)
    assert [s.text for s in profile.memory.summaries()] == ["talked"]
    with pytest.raises(KeyError):
        profile.memory.remember(MemoryItem(text="c", links=("missing",)))


def test_nan_embedding_is_refused(profile):
    with pytest.raises(ValueError, match="NaN"):
        profile.memory.remember(MemoryItem(text="x", embedding=np.array([np.nan], np.float32)))


def test_passphrase_change_rewraps_keys_without_reencrypting(profile, store_path):
    item = profile.memory.remember(MemoryItem(text="keep me"))
    table = profile.store.tables["memories"]
    before = table.sealed(item.id)

    profile.store.change_passphrase("new passphrase")

    after = table.sealed(item.id)
    assert before is not None
    assert after is not None
    assert after.ciphertext == before.ciphertext
    assert after.wrapped_key != before.wrapped_key
    profile.close()
    with pytest.raises(WrongPassphraseError):
        Profile.open(store_path, PASSPHRASE)
    with Profile.open(store_path, "new passphrase") as reopened:
        got = reopened.memory.get(item.id)
        assert got is not None
        assert got.text == "keep me"


def test_kdf_parameters_can_be_raised_but_not_lowered(profile, store_path):
    stronger = KdfParams(memory_kib=16 * 1024, iterations=2)
    profile.store.change_passphrase("p2", kdf=stronger)

    with pytest.raises(ValueError, match="only be raised"):
        profile.store.change_passphrase("p3", kdf=fast_kdf())
    profile.close()
    with Profile.open(store_path, "p2") as reopened:
        assert reopened.store.kdf.memory_kib == 16 * 1024
        assert reopened.store.kdf.iterations == 2
