"""The monitoring statistics a device computes on its own store, on seeded stores."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.chat import run_command
from client.embedding import OnnxEmbedder
from client.export import export_profile, import_profile
from client.llm import OfflineBackend
from client.llm.prompt_types import ContextItem, ItemKind, Provenance
from client.monitoring import (
    correction_rate,
    device_monitoring,
    justification,
    persona_coverage,
    persona_depth,
    uniqueness,
)
from client.persona import PastValue, PersonaAttribute
from client.profile import Profile
from client.prompt_use import MAX_RECORDS, PromptUse, PromptUses, use_of
from tests.client.test_chat_session import session_of
from tests.conftest import PASSPHRASE, fast_kdf


def _attribute(category: str, name: str, evidence: int = 0) -> PersonaAttribute:
    ids = tuple(f"m{i}" for i in range(evidence))
    return PersonaAttribute(category=category, name=name, value="x", evidence=ids)


def _item(kind: ItemKind, key: str, evidence: tuple[str, ...] = ()) -> ContextItem:
    return ContextItem(kind=kind, text=key, source=Provenance(item_id=key, evidence=evidence))


def test_coverage_counts_the_schema_categories_held() -> None:
    attributes = [
        _attribute("preferences", "cuisine"),
        _attribute("preferences", "music"),
        _attribute("goals", "career"),
        _attribute("statements", "statement_0"),  # not a schema category
    ]

    assert persona_coverage(attributes) == pytest.approx(2 / 6)
    assert persona_coverage([]) == 0.0


def test_depth_caps_evidence_per_attribute_at_three() -> None:
    attributes = [
        _attribute("goals", "a", 0),
        _attribute("goals", "b", 2),
        _attribute("goals", "c", 9),
    ]

    assert persona_depth(attributes) == pytest.approx((0 + 2 / 3 + 1) / 3)
    assert persona_depth([]) == 0.0
    with pytest.raises(ValueError, match="cap must be at least 1, got 0"):
        persona_depth(attributes, cap=0)


def test_justification_is_backed_items_over_used_items() -> None:
    items = [
        _item(ItemKind.PERSONA, "preferences.cuisine", ("m1",)),
        _item(ItemKind.PERSONA, "goals.career"),  # no evidence: unjustified
        _item(ItemKind.MEMORY, "m7"),  # a memory is stored evidence itself
    ]
    uses = [use_of(items, "s1"), use_of(items[1:2], "s2"), use_of([], "s3")]

    assert [(u.items, u.backed) for u in uses] == [(3, 2), (1, 0), (0, 0)]
    assert uses[0].persona_keys == ("preferences.cuisine", "goals.career")
    assert justification(uses) == pytest.approx(2 / 4)
    assert justification([]) == 0.0


def test_correction_counts_bad_ratings_and_later_value_changes() -> None:
    cuisine = PersonaAttribute(
        category="preferences", name="cuisine", value="thai", value_since=5.0
    )
    changed = PersonaAttribute(
        category="preferences",
        name="cuisine",
        value="thai",
        value_since=20.0,
        history=(),
    )
    uses = [
        PromptUse(
            session_id="s", items=1, backed=1, persona_keys=("preferences.cuisine",), at=10.0
        ),
        PromptUse(session_id="s", items=1, backed=0, corrected=True, at=11.0),
        PromptUse(session_id="s", items=2, backed=2, at=12.0),
        PromptUse(session_id="s", items=0, backed=0, corrected=True, at=13.0),  # used nothing
    ]

    assert correction_rate(uses, [cuisine]) == pytest.approx(1 / 3)
    # A value set after the first prompt, but never a replacement (no history): no correction.
    assert correction_rate(uses, [changed]) == pytest.approx(1 / 3)
    replaced = PersonaAttribute(
        category="preferences",
        name="cuisine",
        value="thai",
        value_since=20.0,
        history=(PastValue(value="italian", confidence=0.5, since=0.0, until=20.0),),
    )
    assert correction_rate(uses, [replaced]) == pytest.approx(2 / 3)
    assert correction_rate([], [replaced]) == 0.0


def test_uniqueness_is_the_share_of_facts_outside_the_reference() -> None:
    facts = ["Cuisine: Thai", "i have two dogs", "music: jazz"]

    assert uniqueness(facts, ["cuisine:  thai", "music: jazz"]) == pytest.approx(1 / 3)
    assert uniqueness(facts, []) == 0.0  # no reference shipped: nothing measured
    assert uniqueness([], ["music: jazz"]) == 0.0


def test_a_backed_count_above_the_items_is_refused() -> None:
    with pytest.raises(ValueError, match="backed must be within \\[0, items=1\\], got 2"):
        PromptUse(session_id="s", items=1, backed=2)


def test_prompt_uses_keep_only_the_last_records(profile: Profile) -> None:
    uses = PromptUses(profile.store)
    for number in range(MAX_RECORDS + 5):
        uses.record(PromptUse(session_id=f"s{number}", items=1, backed=1, at=float(number)))

    kept = uses.all()

    assert len(kept) == MAX_RECORDS
    assert kept[0].session_id == "s5"
    assert uses.mark_corrected(kept[-1].id)
    assert uses.all()[-1].corrected
    assert not uses.mark_corrected("no-such-id")


def test_device_monitoring_reads_a_seeded_store(profile: Profile) -> None:
    profile.persona.observe("preferences", "cuisine", "thai", evidence=("m1", "m2", "m3"))
    profile.persona.observe("goals", "career", "pilot")
    uses = PromptUses(profile.store)
    uses.record(use_of([_item(ItemKind.PERSONA, "preferences.cuisine", ("m1",))], "s1"))
    bad = uses.record(use_of([_item(ItemKind.PERSONA, "goals.career")], "s1"))
    uses.mark_corrected(bad.id)

    values = device_monitoring(profile, ["cuisine: thai"])

    assert values == {
        "persona_coverage": pytest.approx(2 / 6),
        "persona_depth": pytest.approx(0.5),
        "prompted": 1.0,
        "justification": pytest.approx(0.5),
        "correction": pytest.approx(0.5),
        "uniqueness": pytest.approx(0.5),
    }


def test_an_empty_store_reports_zeros(profile: Profile) -> None:
    assert set(device_monitoring(profile, ["cuisine: thai"]).values()) == {0.0}


def test_a_chat_turn_records_what_its_prompt_used_and_bad_marks_it_corrected(
    profile: Profile, onnx_embedder: OnnxEmbedder
) -> None:
    first = session_of(profile, onnx_embedder, OfflineBackend(), k=1)
    first.turn("I'm vegetarian, so no meat please.")
    first.end()
    session = session_of(profile, onnx_embedder, OfflineBackend())
    session.turn("What should I cook tonight? Something vegetarian.")
    used = session.last.prompt.context.items if session.last else ()

    run_command(session, "/bad")

    records = PromptUses(profile.store).all()
    assert len(records) == 1
    assert records[0].items == len(used) > 0
    assert records[0].backed == records[0].items  # the fact rests on what was said
    assert records[0].corrected
    assert device_monitoring(profile, [])["correction"] == 1.0


def test_prompt_uses_travel_with_an_export(profile: Profile, tmp_path: Path) -> None:
    PromptUses(profile.store).record(PromptUse(session_id="s", items=2, backed=1, corrected=True))
    document = export_profile(profile).document

    with Profile.create(tmp_path / "copy.fpstore", PASSPHRASE, kdf=fast_kdf()) as copy:
        counts = import_profile(copy, document)
        restored = PromptUses(copy.store).all()

    assert counts["prompt_uses"] == 1
    assert restored == PromptUses(profile.store).all()
