"""Near, middle and far strata in 5:3:2, coherent strata, one value per leaf, the life story."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from protocol.persona_schema import CATEGORIES
from simulation.population.entities import STRATA, Origin
from simulation.population.taxonomy import load_taxonomy
from simulation.population.themes import theme_space
from tests.simulation.factories import personas_only

# Goodness of fit with 2 degrees of freedom: P(chi2 > x) = exp(-x / 2), so the critical
# value at significance alpha is -2 ln(alpha). A correct sampler fails with probability
# alpha = 1e-4 for a random seed; the seed is fixed, so the test is also deterministic.
ALPHA = 1e-4
CHI2_CRITICAL_2DF = -2.0 * math.log(ALPHA)


def _chi_square(observed: list[int], ratio: tuple[float, float, float]) -> float:
    total = sum(observed)
    expected = [total * w / sum(ratio) for w in ratio]
    return sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))


def _strata_counts(users) -> list[int]:
    origins = Counter(a.origin for user in users for a in user.persona)
    return [origins[stratum] for stratum in STRATA]


def test_near_middle_far_follow_5_3_2_within_sampling_error():
    users = personas_only(3000)

    counts = _strata_counts(users)

    assert sum(counts) > 50_000
    assert _chi_square(counts, (5, 3, 2)) < CHI2_CRITICAL_2DF, counts


def test_another_ratio_is_followed_as_well():
    users = personas_only(1500, ratio=(1, 1, 1))

    counts = _strata_counts(users)

    assert _chi_square(counts, (1, 1, 1)) < CHI2_CRITICAL_2DF, counts


def test_near_attributes_are_closer_to_the_core_traits_than_far_ones():
    taxonomy = load_taxonomy()
    space = theme_space(taxonomy)
    similarity: dict[Origin, list[float]] = {stratum: [] for stratum in STRATA}

    for user in personas_only(400):
        core = np.sum([space.vector(a) for a in user.persona if a.origin is Origin.CORE], axis=0)
        core = core / np.linalg.norm(core)
        for a in user.persona:
            if a.origin in similarity:
                similarity[a.origin].append(float(space.vector(a) @ core))

    near, middle, far = (np.mean(similarity[stratum]) for stratum in STRATA)
    assert near > middle > far


def test_each_persona_holds_each_attribute_once_and_covers_every_category():
    for user in personas_only(400):
        keys = [a.key for a in user.persona]

        assert len(keys) == len(set(keys))
        assert {a.category for a in user.persona} == set(CATEGORIES)


def test_life_story_links_an_added_interest_to_an_earlier_attribute_by_a_shared_theme():
    taxonomy = load_taxonomy()
    users = personas_only(400)

    links = [(user, link) for user in users for link in user.story]

    assert len(links) >= 2 * len(users) * 0.9
    for user, link in links:
        position = {a.key: i for i, a in enumerate(user.persona)}
        anchor_themes = taxonomy.leaf(*link.anchor.key).spec(link.anchor.value).themes
        interest_themes = taxonomy.leaf(*link.interest.key).spec(link.interest.value).themes
        assert link.interest.category == "interests"
        assert link.interest.origin is Origin.STORY
        assert link.interest in user.persona
        assert link.anchor in user.persona
        assert position[link.anchor.key] < position[link.interest.key]
        assert link.theme in anchor_themes
        assert link.theme in interest_themes
