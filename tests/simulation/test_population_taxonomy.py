"""The taxonomy and phrase bank files: size, schema agreement, tables, and loud validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.persona import CATEGORIES as PERSONA_CATEGORIES
from client.persona import AttributeKind, validate_attribute_key
from protocol.persona_schema import CATEGORIES
from simulation.population.phrases import PHRASEBANK_PATH, PhraseBankError, load_phrasebank
from simulation.population.taxonomy import (
    KINDS,
    TAXONOMY_PATH,
    TaxonomyError,
    load_taxonomy,
)


def _broken_copy(tmp_path: Path, edit) -> Path:
    raw = json.loads(TAXONOMY_PATH.read_text(encoding="utf-8"))
    edit(raw)
    path = tmp_path / "taxonomy.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def test_taxonomy_has_a_few_hundred_leaves_covering_every_category():
    taxonomy = load_taxonomy()

    per_category = {c: len(taxonomy.in_category(c)) for c in CATEGORIES}

    assert len(taxonomy.leaves) >= 250
    assert all(count >= 10 for count in per_category.values()), per_category
    assert sum(len(leaf.values) for leaf in taxonomy.leaves) >= 1000


def test_categories_kinds_and_names_fit_the_persona_schema():
    taxonomy = load_taxonomy()

    assert CATEGORIES == PERSONA_CATEGORIES
    assert set(KINDS) == {kind.value for kind in AttributeKind}
    for leaf in taxonomy.leaves:
        validate_attribute_key(leaf.category, leaf.name)  # raises on a bad key


def test_every_demographic_is_drawn_from_a_table_with_a_stated_source():
    taxonomy = load_taxonomy()

    demographics = taxonomy.in_category("demographics")

    assert all(leaf.distribution is not None for leaf in demographics)
    for leaf in taxonomy.core_traits:
        assert leaf.distribution is not None
        assert len(leaf.distribution.source) > 40, leaf.name
        for row in leaf.distribution.rows.values():
            assert sum(row.values()) == pytest.approx(1.0)


def test_every_recommendable_leaf_has_requests_and_two_cues_per_value():
    taxonomy = load_taxonomy()

    recommendable = taxonomy.recommendable

    assert len(recommendable) >= 30
    for leaf in recommendable:
        assert leaf.ask
        assert leaf.reply
        assert leaf.hint
        assert all(len(spec.cues) >= 2 for spec in leaf.values), leaf.name


def test_an_unknown_theme_is_refused_naming_the_leaf(tmp_path):
    def edit(raw):
        raw["categories"]["preferences"][0]["values"][0]["themes"] = ["no-such-theme"]

    path = _broken_copy(tmp_path, edit)

    with pytest.raises(TaxonomyError, match=r"favourite_cuisine.*no-such-theme"):
        load_taxonomy(path)


def test_a_table_row_that_does_not_sum_to_one_is_refused(tmp_path):
    def edit(raw):
        raw["categories"]["demographics"][0]["distribution"]["rows"]["*"]["18 to 24"] = 0.5

    path = _broken_copy(tmp_path, edit)

    with pytest.raises(TaxonomyError, match=r"age_band.*sum to 1"):
        load_taxonomy(path)


def test_a_cue_shared_by_two_values_is_refused(tmp_path):
    def edit(raw):
        cuisine = raw["categories"]["preferences"][0]["values"]
        cuisine[1]["cues"][0] = cuisine[0]["cues"][0]

    path = _broken_copy(tmp_path, edit)

    with pytest.raises(TaxonomyError, match="also used by"):
        load_taxonomy(path)


def test_phrasebank_loads_and_refuses_a_template_without_its_placeholder(tmp_path):
    raw = json.loads(PHRASEBANK_PATH.read_text(encoding="utf-8"))
    raw["change_replace"].append("I changed my mind.")
    path = tmp_path / "phrasebank.json"
    path.write_text(json.dumps(raw), encoding="utf-8")

    bank = load_phrasebank()

    assert bank.small_talk
    assert bank.reply_generic
    with pytest.raises(PhraseBankError, match="change_replace"):
        load_phrasebank(path)
