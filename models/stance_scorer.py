"""Score candidates against a person's parsed stances: a few interpretable features.

For one person's facts (parsed by models.stance) and a context, each candidate gets:

- ``context``: cos(candidate, context);
- ``avoided``: max over avoided / ruled-out objects (each listed item of a diet rule on its
  own) of cos(candidate with its negated words removed, object): similarity to what the
  person avoids, where "gluten-free" does not count as gluten (models.stance_mentions);
- ``liked``: max over liked / preferred objects of cos(candidate, object);
- ``avoided_named``: the largest share of an avoided item's content words that the
  candidate names plainly (stemmed words); ``avoided_negated``: 1 if it names one only
  under a negation;
- ``liked_named``: the same share for liked items;
- ``fact``: max over the facts that state no stance of cos(candidate, fact).

The score is a weighted sum (``DEFAULT_WEIGHTS``: the signs say what each feature means,
set by hand before looking at any result). ``fit_weights`` fits the seven weights as a
conditional logit over each row's candidates (McFadden 1974): seven numbers, so that a
fit on some preference topics can be scored on others (leave one topic out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.encoded import EmbedFn
from models.stance import StanceClause, object_items, parse_stance
from models.stance_mentions import mention, without_negated

Array = npt.NDArray[np.float32]
FEATURES = (
    "context",
    "avoided",
    "liked",
    "avoided_named",
    "avoided_negated",
    "liked_named",
    "fact",
)
DEFAULT_WEIGHTS = np.asarray([0.5, -1.0, 1.0, -0.25, 0.25, 0.1, 0.0], np.float32)


@dataclass(frozen=True)
class StanceRow:
    """One ranking row in words: context, the person's facts, the candidates."""

    context: str
    facts: tuple[str, ...]
    candidates: tuple[str, ...]
    # Each fact's stance when it is already known (a device's stored persona attribute,
    # client.persona); None: parsed from the fact's words.
    parsed: tuple[tuple[StanceClause, ...], ...] | None = None

    def stances(self) -> list[tuple[StanceClause, ...]]:
        """Each fact's stance clauses: the stored ones, or parsed from its words."""
        if self.parsed is None:
            return [parse_stance(f) for f in self.facts]
        if len(self.parsed) != len(self.facts):
            raise ValueError(f"{len(self.parsed)} stances for {len(self.facts)} facts")
        return list(self.parsed)


def items(clause: StanceClause) -> list[str]:
    """A clause's object as comparable items (models.stance.object_items)."""
    return object_items(clause.object)


def stance_features(rows: Sequence[StanceRow], embed: EmbedFn) -> Array:
    """(N, K, F) features in ``FEATURES`` order; rows with fewer candidates are zero-padded."""
    parsed = [row.stances() for row in rows]
    texts = {t for row in rows for t in (row.context, *row.facts, *row.candidates)}
    texts |= {without_negated(c) for row in rows for c in row.candidates}
    texts |= {i for facts in parsed for clauses in facts for c in clauses for i in items(c)}
    unique = sorted(texts)
    table = dict(zip(unique, np.asarray(embed(unique), np.float32), strict=True))
    width = max(len(row.candidates) for row in rows)
    out = np.zeros((len(rows), width, len(FEATURES)), np.float32)
    for n, (row, facts) in enumerate(zip(rows, parsed, strict=True)):
        out[n, : len(row.candidates)] = _row_features(row, facts, table)
    return out


def _row_features(
    row: StanceRow, facts: list[tuple[StanceClause, ...]], table: dict[str, Array]
) -> Array:
    clauses = [c for fact in facts for c in fact]
    avoided = [c for c in clauses if c.stance.negative]
    liked = [c for c in clauses if not c.stance.negative]
    plain_facts = [f for f, parsed in zip(row.facts, facts, strict=True) if not parsed]
    features = np.zeros((len(row.candidates), len(FEATURES)), np.float32)
    for k, text in enumerate(row.candidates):
        vector, stripped = table[text], table[without_negated(text)]
        avoided_mentions = [mention(text, i) for c in avoided for i in items(c)]
        features[k] = [
            float(vector @ table[row.context]),
            _best(stripped, [i for c in avoided for i in items(c)], table),
            _best(vector, [i for c in liked for i in items(c)], table),
            max((m.share for m in avoided_mentions), default=0.0),
            float(any(m.negated for m in avoided_mentions)),
            max((mention(text, i).share for c in liked for i in items(c)), default=0.0),
            _best(vector, plain_facts, table),
        ]
    return features


def _best(vector: Array, texts: list[str], table: dict[str, Array]) -> float:
    return max((float(vector @ table[t]) for t in texts), default=0.0)


def stance_scores(features: Array, weights: Array = DEFAULT_WEIGHTS) -> Array:
    """(N, K, F) @ (F,) -> (N, K) scores; higher is better for the person."""
    return np.asarray(features @ weights, np.float32)


def fit_weights(
    features: Array,
    labels: npt.NDArray[np.int64],
    *,
    l2: float = 1e-2,
    steps: int = 500,
    learning_rate: float = 0.5,
) -> Array:
    """Conditional-logit weights (F,) by gradient descent on the mean cross-entropy of
    softmax_k(x_k . w) against the gold candidate, plus ``l2`` * |w|^2; starts from
    ``DEFAULT_WEIGHTS``. Deterministic: no sampling."""
    if not len(features):
        raise ValueError("no rows to fit the stance weights on")
    weights = DEFAULT_WEIGHTS.astype(np.float64).copy()
    x = features.astype(np.float64)
    gold = x[np.arange(len(x)), labels]  # (N, F)
    for _ in range(steps):
        logits = x @ weights
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        gradient = (np.einsum("nk,nkf->nf", p, x) - gold).mean(0) + 2 * l2 * weights
        weights -= learning_rate * gradient
    return weights.astype(np.float32)


def leave_one_topic_out(
    features: Array, labels: npt.NDArray[np.int64], topics: npt.NDArray[np.str_]
) -> Array:
    """(N, K) scores, each topic's rows with weights fitted on the other topics' rows
    (:func:`fit_weights`); ``DEFAULT_WEIGHTS`` when there is no other topic."""
    out = np.zeros(features.shape[:2], np.float32)
    for topic in sorted(set(topics.tolist())):
        rows = topics == topic
        weights = fit_weights(features[~rows], labels[~rows]) if (~rows).any() else None
        out[rows] = stance_scores(features[rows], DEFAULT_WEIGHTS if weights is None else weights)
    return out
