"""Rows of the stance stage (models.stance_stage) in the generalisation benchmark.

The stage runs after whatever head is scored (``head``: a scorer over encoded rows), so
the rows follow the default head when it changes. Rows (split names as the other rows',
plus ``*_avoiding``: only the rows whose persona states an avoid / cannot clause, the
only rows the stage can change):

Whose persona a set holds (``PERSONA_OWNER``, models.stance_stage.PERSONA_OWNERS): on
PrefEval the preference and the question are the same user's ("requester"); on ConvAI2 and
Multi-Session Chat the persona is the replier's and the context the partner's turn
("replier"), so the rows below that read it (all but ``_always``, ``_rank`` and
``_any_owner``) leave those sets' rows to the head.

- ``head_stance_stage``: where the context asks for a recommendation or a choice
  (``is_request``) on the requester's own persona, the standardised head + the stance
  term, elsewhere the head; on
  PrefEval each topic is scored with weights fitted on the other seven (leave one topic
  out), elsewhere with weights fitted on all eight topics (those sets never take part);
- ``head_stance_stage_always``: the same stage on every context, requests or not, whoever's
  persona;
- ``head_stance_stage_fixed``: as ``head_stance_stage`` with the pinned ``STAGE_WEIGHTS``;
- ``head_stance_stage_liked``: as ``head_stance_stage`` with the liked / liked_named
  features too (five weights; requests only, since it is not zero for likes);
- ``head_stance_stage_liked_any_owner``: as ``_liked`` on every request whoever's persona
  it holds (the rule before the owner was read);
- ``head_stance_stage_rank``: the head's order with candidates naming an avoided item
  plainly ranked last, as the memory validator does (no weights);
- ``head_for_stage``: the head alone, on the ``*_avoiding`` rows too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from models.encoded import EmbedFn, EncodedExamples
from models.ranking_metrics import hits_at_1
from models.stance import parse_stance
from models.stance_scorer import FEATURES, StanceRow, stance_features
from models.stance_stage import (
    LIKED_FEATURES,
    STAGE_WEIGHTS,
    fit_stage_on_subsets,
    is_request,
    stage_acts,
    staged_scores,
    standardised,
)

Array = npt.NDArray[np.float32]
Scorer = Callable[[EncodedExamples], Array]
PREFEVAL = ("prefeval", "mcq_dev_topics")
# Whose persona each set's rows hold (bench.generalisation_data's protocols): ConvAI2 and
# MSC rank the replies of the persona's owner to the partner's turn; PrefEval ranks answers
# to the persona owner's own question.
PERSONA_OWNER = {"convai2": "replier", "msc": "replier", "prefeval": "requester"}


def avoiding_rows(rows: list[StanceRow]) -> npt.NDArray[np.bool_]:
    """Which rows' facts state an avoid / cannot clause."""
    return np.asarray(
        [any(c.stance.negative for f in r.facts for c in parse_stance(f)) for r in rows], bool
    )


def sparse_features(rows: list[StanceRow], width: int, embed: EmbedFn) -> Array:
    """(N, width, F) parsed-stance features, computed only where a stage can read them:
    rows that avoid something, and requests with any stance (the liked variant); the
    avoidance features of the others are zero by construction."""
    out = np.zeros((len(rows), width, len(FEATURES)), np.float32)
    request = np.asarray(
        [is_request(r.context) and any(parse_stance(f) for f in r.facts) for r in rows], bool
    )
    chosen = np.flatnonzero(avoiding_rows(rows) | request)
    if len(chosen):
        part = stance_features([rows[i] for i in chosen], embed)
        out[chosen, : part.shape[1]] = part
    return out


def rank_last(head: Array, features: Array) -> Array:
    """The head's scores with every candidate that names an avoided item plainly (all of
    its content words, not under a negation) moved below all others."""
    named = (features[..., FEATURES.index("avoided_named")] >= 1.0) & (
        features[..., FEATURES.index("avoided_negated")] == 0.0
    )
    spread = float(np.ptp(head)) + 1.0
    return np.asarray(head - named * spread, np.float32)


def set_features(
    tests: dict[tuple[str, str], EncodedExamples],
    words: dict[tuple[str, str], list[StanceRow]],
    embed: EmbedFn,
) -> dict[tuple[str, str], Array]:
    """``sparse_features`` of every set: they do not depend on the head, so stages over
    several heads can share them."""
    return {
        key: sparse_features(words[key], data.candidates.shape[1], embed)
        for key, data in tests.items()
    }


def stage_rows(
    tests: dict[tuple[str, str], EncodedExamples],
    words: dict[tuple[str, str], list[StanceRow]],
    topics: npt.NDArray[np.str_],
    head: Scorer,
    embed: EmbedFn,
    features: dict[tuple[str, str], Array] | None = None,
) -> dict[str, Any]:
    """hits, sizes, per-topic figures and fitted weights of the stage rows."""
    scores = {key: head(data) for key, data in tests.items()}
    if features is None:
        features = set_features(tests, words, embed)
    prefeval = tests[PREFEVAL]
    labels = prefeval.labels
    held = np.zeros_like(scores[PREFEVAL])
    fitted: dict[str, list[float]] = {}
    # Each topic's weights from the other seven topics, and the weights from all eight: the
    # fits share their rows, so they run side by side (models.stance_stage).
    names = sorted(set(topics.tolist()))
    subsets = [topics != topic for topic in names] + [np.ones(len(topics), bool)]
    prefeval_fit = (scores[PREFEVAL], features[PREFEVAL], labels, subsets)
    *per_topic, all_topics = fit_stage_on_subsets(*prefeval_fit)
    *liked_per_topic, liked_all = fit_stage_on_subsets(*prefeval_fit, names=LIKED_FEATURES)
    liked_held = np.zeros_like(held)
    for topic, weights, liked in zip(names, per_topic, liked_per_topic, strict=True):
        rows = topics == topic
        held[rows] = staged_scores(scores[PREFEVAL][rows], features[PREFEVAL][rows], weights)
        fitted[topic] = weights.tolist()
        liked_held[rows] = staged_scores(
            scores[PREFEVAL][rows], features[PREFEVAL][rows], liked, LIKED_FEATURES
        )

    def liked_stage(k: tuple[str, str]) -> Array:
        if k == PREFEVAL:
            return liked_held
        return staged_scores(scores[k], features[k], liked_all, LIKED_FEATURES)

    def fitted_stage(k: tuple[str, str]) -> Array:
        return held if k == PREFEVAL else staged_scores(scores[k], features[k], all_topics)

    methods: dict[str, Callable[[tuple[str, str]], Array]] = {
        "head_for_stage": lambda k: scores[k],
        "head_stance_stage": lambda k: _only_requests(scores[k], fitted_stage(k), words[k], k),
        "head_stance_stage_always": fitted_stage,
        "head_stance_stage_fixed": lambda k: _only_requests(
            scores[k], staged_scores(scores[k], features[k], STAGE_WEIGHTS), words[k], k
        ),
        "head_stance_stage_rank": lambda k: rank_last(scores[k], features[k]),
        "head_stance_stage_liked": lambda k: _only_requests(scores[k], liked_stage(k), words[k], k),
        "head_stance_stage_liked_any_owner": lambda k: _only_requests(
            scores[k], liked_stage(k), words[k]
        ),
    }
    result = _collect(methods, tests, words, topics, fitted, all_topics)
    result["config"]["liked_weights_all_topics"] = liked_all.tolist()
    return result


def renamed(stage: dict[str, Any], head_name: str) -> dict[str, Any]:
    """``stage_rows``' result with its methods named after the head under the stage
    (``head_for_stage`` -> ``<head_name>_for_stage``, ``head_stance_stage*`` ->
    ``<head_name>_stance_stage*``), so stages over two heads sit in one table."""

    def name(method: str) -> str:
        return head_name + method.removeprefix("head")

    return {
        "hits": {(name(m), d, s): v for (m, d, s), v in stage["hits"].items()},
        "sizes": stage["sizes"],
        "per_topic": {name(m): v for m, v in stage["per_topic"].items()},
        "config": stage["config"],
    }


def _only_requests(
    head: Array, staged: Array, words: list[StanceRow], key: tuple[str, str] | None = None
) -> Array:
    """The staged scores where the stage acts, the head's (standardised: same order)
    elsewhere. With ``key`` the stage acts on requests on the requester's own persona
    (``PERSONA_OWNER`` of the set, models.stance_stage.stage_acts); without, on every
    request."""
    if key is None:
        request = np.asarray([is_request(r.context) for r in words], bool)
    else:
        owner = PERSONA_OWNER[key[0]]
        request = np.asarray([stage_acts(r.context, owner) for r in words], bool)
    return np.where(request[:, None], staged, standardised(head)).astype(np.float32)


def _collect(
    methods: dict[str, Callable[[tuple[str, str]], Array]],
    tests: dict[tuple[str, str], EncodedExamples],
    words: dict[tuple[str, str], list[StanceRow]],
    topics: npt.NDArray[np.str_],
    fitted: dict[str, list[float]],
    all_topics: Array,
) -> dict[str, Any]:
    hits: dict[tuple[str, str, str], float] = {}
    sizes: dict[tuple[str, str], int] = {}
    per_topic: dict[str, dict[str, float]] = {}
    for method, scorer in methods.items():
        for key, data in tests.items():
            dataset, split = key
            values = scorer(key)
            hits[(method, dataset, split)] = hits_at_1(values, data.labels)
            sizes[key] = len(data)
            mask = avoiding_rows(words[key])
            if key != PREFEVAL and mask.any():
                hits[(method, dataset, f"{split}_avoiding")] = hits_at_1(
                    values[mask], data.labels[mask]
                )
                sizes[(dataset, f"{split}_avoiding")] = int(mask.sum())
        values = scorer(PREFEVAL)
        per_topic[method] = {
            t: hits_at_1(values[topics == t], tests[PREFEVAL].labels[topics == t])
            for t in sorted(set(topics.tolist()))
        }
    config = {"stage_weights_loto": fitted, "stage_weights_all_topics": all_topics.tolist()}
    return {"hits": hits, "sizes": sizes, "per_topic": per_topic, "config": config}
