"""Population quality: size, uniqueness, near-duplicates, coverage, value concentration, strata.

Uniqueness here is measured, not judged: each persona is the set of its
``(category, name, value)`` triples, and the distance between two personas is the Jaccard
distance of those sets (0 identical, 1 nothing in common), averaged over all pairs. A
near-duplicate is a persona whose nearest other persona shares at least half of the union
of their attributes (Jaccard similarity >= 0.5). All pairs are compared exactly, in
blocks, with a matrix product of the 0/1 persona-by-value matrix.

Jaccard distance is dominated by *which* attributes two personas have; stereotyping shows
in *which values* they take. Two more measures catch it: value agreement (over all pairs,
the share of further attributes both hold on which they agree) and coherence (the mean
theme similarity between a persona's further attributes and its core traits). A clone
factory scores high on both; a random one scores low on coherence.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from protocol.persona_schema import CATEGORIES
from simulation.population.entities import STRATA, Origin, SyntheticUser
from simulation.population.taxonomy import Taxonomy
from simulation.population.themes import theme_space

NEAR_DUPLICATE_SIMILARITY = 0.5
_BLOCK = 1024


@dataclass(frozen=True, slots=True)
class PopulationQuality:
    personas: int
    mean_attributes: float
    uniqueness: float
    value_agreement: float
    coherence: float
    near_duplicate_share: float
    mean_nearest_similarity: float
    max_nearest_similarity: float
    category_coverage: float
    leaf_coverage: float
    mean_modal_value_share: float
    mean_uniform_share: float
    max_modal_value_share: float
    max_modal_value_leaf: str
    origin_counts: dict[str, int]
    near_middle_far_ratio: tuple[float, float, float]

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def measure_population(users: Sequence[SyntheticUser], taxonomy: Taxonomy) -> PopulationQuality:
    """Quality of the users' initial personas (session 0)."""
    personas = [user.persona for user in users]
    matrix = persona_matrix(users, taxonomy)
    uniqueness, nearest = pairwise_jaccard(matrix)
    further = _further_columns(taxonomy)
    modal = modal_value_shares(users, taxonomy)
    origins = Counter(a.origin.value for persona in personas for a in persona)
    strata_total = sum(origins[o.value] for o in STRATA) or 1
    near, middle, far = (origins[o.value] / strata_total for o in STRATA)
    worst = max(modal, key=lambda leaf: modal[leaf][0]) if modal else ""
    return PopulationQuality(
        personas=len(users),
        mean_attributes=float(np.mean([len(p) for p in personas])) if personas else 0.0,
        uniqueness=uniqueness,
        value_agreement=value_agreement(matrix[:, further], _leaf_matrix(taxonomy, further)),
        coherence=coherence(users, taxonomy),
        near_duplicate_share=float((nearest >= NEAR_DUPLICATE_SIMILARITY).mean()),
        mean_nearest_similarity=float(nearest.mean()),
        max_nearest_similarity=float(nearest.max()),
        category_coverage=float(np.mean([len({a.category for a in p}) for p in personas]))
        / len(CATEGORIES),
        leaf_coverage=len({a.key for p in personas for a in p}) / len(taxonomy.leaves),
        mean_modal_value_share=float(np.mean([share for share, _ in modal.values()])),
        mean_uniform_share=float(np.mean([uniform for _, uniform in modal.values()])),
        max_modal_value_share=modal[worst][0] if worst else 0.0,
        max_modal_value_leaf=worst,
        origin_counts={origin.value: origins[origin.value] for origin in Origin},
        near_middle_far_ratio=(near, middle, far),
    )


def _value_columns(taxonomy: Taxonomy) -> list[tuple[int, str, str, str]]:
    """(leaf index, category, name, value) per column of the persona matrix."""
    return [
        (i, leaf.category, leaf.name, spec.value)
        for i, leaf in enumerate(taxonomy.leaves)
        for spec in leaf.values
    ]


def _further_columns(taxonomy: Taxonomy) -> list[int]:
    """Columns of values of leaves not drawn from tables (the generator's own choices)."""
    tabled = {i for i, leaf in enumerate(taxonomy.leaves) if leaf.distribution is not None}
    return [c for c, (leaf, *_) in enumerate(_value_columns(taxonomy)) if leaf not in tabled]


def _leaf_matrix(taxonomy: Taxonomy, columns: list[int]) -> npt.NDArray[np.float32]:
    """0/1 matrix (n_columns, n_leaves) mapping each value column to its leaf."""
    owners = [_value_columns(taxonomy)[c][0] for c in columns]
    mapping = np.zeros((len(columns), len(taxonomy.leaves)), dtype=np.float32)
    mapping[np.arange(len(columns)), owners] = 1.0
    return mapping


def persona_matrix(users: Sequence[SyntheticUser], taxonomy: Taxonomy) -> npt.NDArray[np.float32]:
    """0/1 matrix, shape (n_users, n_values_in_taxonomy): which values each persona has."""
    column = {(c, n, v): i for i, (_, c, n, v) in enumerate(_value_columns(taxonomy))}
    matrix = np.zeros((len(users), len(column)), dtype=np.float32)
    for row, user in enumerate(users):
        matrix[row, [column[(a.category, a.name, a.value)] for a in user.persona]] = 1.0
    return matrix


def pairwise_jaccard(
    matrix: npt.NDArray[np.float32],
) -> tuple[float, npt.NDArray[np.float64]]:
    """Mean Jaccard distance over all pairs, and each row's highest similarity to another."""
    n = matrix.shape[0]
    if n < 2:
        return float("nan"), np.zeros(n)
    sizes = matrix.sum(axis=1).astype(np.float64)
    total_distance = 0.0
    nearest = np.zeros(n)
    for start in range(0, n, _BLOCK):
        stop = min(start + _BLOCK, n)
        shared = (matrix[start:stop] @ matrix.T).astype(np.float64)  # (block, n)
        union = sizes[start:stop, None] + sizes[None, :] - shared
        similarity = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
        similarity[np.arange(stop - start), np.arange(start, stop)] = np.nan  # self-pairs
        total_distance += float(np.nansum(1.0 - similarity))
        nearest[start:stop] = np.nanmax(similarity, axis=1)
    return total_distance / (n * (n - 1)), nearest


def value_agreement(
    values: npt.NDArray[np.float32], value_to_leaf: npt.NDArray[np.float32]
) -> float:
    """Over all pairs sharing a leaf: the share of shared leaves on which the values agree.

    ``values`` is (n_users, n_columns) 0/1; ``value_to_leaf`` (n_columns, n_leaves).
    """
    leaves = values @ value_to_leaf  # (n_users, n_leaves): which leaves each persona holds
    agree = 0.0
    shared = 0.0
    for start in range(0, values.shape[0], _BLOCK):
        stop = min(start + _BLOCK, values.shape[0])
        same = (values[start:stop] @ values.T).astype(np.float64)
        both = (leaves[start:stop] @ leaves.T).astype(np.float64)
        rows = np.arange(stop - start)
        same[rows, rows + start] = 0.0
        both[rows, rows + start] = 0.0
        agree += float(same.sum())
        shared += float(both.sum())
    return agree / shared if shared else float("nan")


def coherence(users: Sequence[SyntheticUser], taxonomy: Taxonomy) -> float:
    """Mean cosine between each further attribute's themes and the persona's core themes."""
    space = theme_space(taxonomy)
    scores: list[float] = []
    for user in users:
        core = sum(
            (space.vector(a) for a in user.persona if a.origin is Origin.CORE),
            np.zeros(len(space.themes)),
        )
        norm = float(np.linalg.norm(core))
        if norm == 0.0:
            continue
        further = [space.vector(a) for a in user.persona if a.origin is not Origin.CORE]
        if further:
            scores.append(float(np.mean(np.array(further) @ (core / norm))))
    return float(np.mean(scores)) if scores else float("nan")


def modal_value_shares(
    users: Sequence[SyntheticUser], taxonomy: Taxonomy
) -> dict[str, tuple[float, float]]:
    """Per leaf held by anyone: (share of holders with its most common value, 1 / n_values)."""
    counts: dict[tuple[str, str], Counter[str]] = {}
    for user in users:
        for attribute in user.persona:
            counts.setdefault(attribute.key, Counter())[attribute.value] += 1
    return {
        f"{category}.{name}": (
            values.most_common(1)[0][1] / values.total(),
            1.0 / len(taxonomy.leaf(category, name).values),
        )
        for (category, name), values in counts.items()
    }


def text_statistics(texts: Sequence[str]) -> dict[str, float]:
    """Mean words per text, and distinct-1/-2 (distinct n-grams over all n-grams)."""
    words = [text.lower().split() for text in texts]
    unigrams = [w for sentence in words for w in sentence]
    bigrams = [pair for sentence in words for pair in itertools.pairwise(sentence)]
    return {
        "texts": len(texts),
        "mean_words": float(np.mean([len(s) for s in words])) if words else 0.0,
        "distinct_1": len(set(unigrams)) / len(unigrams) if unigrams else 0.0,
        "distinct_2": len(set(bigrams)) / len(bigrams) if bigrams else 0.0,
    }
