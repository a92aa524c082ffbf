"""Ranking examples as arrays: every text embedded once, candidates and facts padded per row."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import numpy.typing as npt

from models.lexical_overlap import shared_word_counts
from models.ranking_task import GOLD, RankingExample

Array = npt.NDArray[np.float32]
EmbedFn = Callable[[list[str]], Array]
# One persona fact -> the (text, sign) pairs that stand for it in the head's input.
FactVectors = Callable[[str], list[tuple[str, float]]]


@dataclass(frozen=True)
class EncodedExamples:
    """context (N, D); candidates (N, K, D) with candidate_mask (N, K), since rows with
    fewer candidates are padded; persona (N, P, D) with persona_mask (N, P); labels (N,)
    the index of the candidate the signal is about; signs (N,) +1 for "this one", -1 for
    "not this one" (a thumbs down); weights (N,) per-example loss weights; shared_words
    (N, K) each candidate's content words in common with the context
    (models.lexical_overlap; zeros when not given, as for rows built from vectors alone)."""

    context: Array
    candidates: Array
    candidate_mask: Array
    persona: Array
    persona_mask: Array
    labels: npt.NDArray[np.int64]
    signs: Array
    weights: Array
    shared_words: Array = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __post_init__(self) -> None:
        if self.shared_words.size == 0 and self.candidate_mask.size:  # not given
            none_shared = np.zeros(self.candidate_mask.shape, np.float32)
            object.__setattr__(self, "shared_words", none_shared)

    def __len__(self) -> int:
        return int(self.context.shape[0])

    def subset(self, rows: npt.NDArray[np.int64] | Sequence[int]) -> EncodedExamples:
        index = np.asarray(rows, dtype=np.int64)
        return EncodedExamples(*(getattr(self, f.name)[index] for f in fields(self)))


def embed_unique(texts: Sequence[str], embed: EmbedFn) -> dict[str, Array]:
    """Embed each distinct text once."""
    unique = sorted(set(texts))
    vectors = embed(unique) if unique else np.zeros((0, 0), np.float32)
    return {text: vectors[i] for i, text in enumerate(unique)}


def encode(
    examples: Sequence[RankingExample],
    embed: EmbedFn,
    *,
    dimension: int,
    labels: Sequence[int] | None = None,
    signs: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    persona_vectors: FactVectors | None = None,
) -> EncodedExamples:
    """Encode examples; by default the label is the gold (index 0), sign +1, weight 1.

    ``persona_vectors`` says which (text, sign) pairs stand for one persona fact in the
    head's input (models.stance_persona); by default the fact itself, sign +1."""
    expand = persona_vectors or _as_is
    personas = {tuple(e.persona): [v for f in e.persona for v in expand(f)] for e in examples}
    texts = _texts(examples) + [t for pairs in personas.values() for t, _ in pairs]
    table = embed_unique(texts, embed)
    count = len(examples)
    k = max((len(e.candidates) for e in examples), default=1)
    p = max((len(pairs) for pairs in personas.values()), default=1) or 1
    context = np.zeros((count, dimension), np.float32)
    candidates = np.zeros((count, k, dimension), np.float32)
    candidate_mask = np.zeros((count, k), np.float32)
    shared_words = np.zeros((count, k), np.float32)
    known: dict[str, frozenset[str]] = {}  # each text's content words, found once
    persona = np.zeros((count, p, dimension), np.float32)
    persona_mask = np.zeros((count, p), np.float32)
    for row, example in enumerate(examples):
        context[row] = table[example.context]
        for slot, text in enumerate(example.candidates):
            candidates[row, slot] = table[text]
            candidate_mask[row, slot] = 1.0
        shared_words[row, : len(example.candidates)] = shared_word_counts(
            example.context, example.candidates, known
        )
        for slot, (text, sign) in enumerate(personas[tuple(example.persona)]):
            persona[row, slot] = sign * table[text]
            persona_mask[row, slot] = 1.0
    return EncodedExamples(
        context,
        candidates,
        candidate_mask,
        persona,
        persona_mask,
        np.asarray(labels if labels is not None else [GOLD] * count, np.int64),
        np.asarray(signs if signs is not None else [1.0] * count, np.float32),
        np.asarray(weights if weights is not None else [1.0] * count, np.float32),
        shared_words,
    )


def _texts(examples: Sequence[RankingExample]) -> list[str]:
    texts: list[str] = []
    for example in examples:
        texts.append(example.context)
        texts.extend(example.candidates)
    return texts


def _as_is(fact: str) -> list[tuple[str, float]]:
    return [(fact, 1.0)]


def concatenate(parts: Sequence[EncodedExamples]) -> EncodedExamples:
    """Rows of several encoded sets in order; candidates and facts are padded to the widest
    set (padding is masked out of the loss and of the persona attention)."""
    k = max(p.candidates.shape[1] for p in parts)
    facts = max(p.persona.shape[1] for p in parts)

    def pad(array: npt.NDArray[np.generic], axis_size: int) -> npt.NDArray[np.generic]:
        widths = [(0, 0)] * array.ndim
        widths[1] = (0, axis_size - array.shape[1])
        return np.pad(array, widths)

    return EncodedExamples(
        np.concatenate([p.context for p in parts]),
        np.concatenate([pad(p.candidates, k) for p in parts]),
        np.concatenate([pad(p.candidate_mask, k) for p in parts]),
        np.concatenate([pad(p.persona, facts) for p in parts]),
        np.concatenate([pad(p.persona_mask, facts) for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.signs for p in parts]),
        np.concatenate([p.weights for p in parts]),
        np.concatenate([pad(p.shared_words, k) for p in parts]),
    )
