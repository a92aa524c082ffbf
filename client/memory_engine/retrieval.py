"""Candidate generation: dense and lexical search fused, then context and links.

Stages, each switchable so the benchmark can measure what each adds:
1. dense cosine over the decrypted index and BM25 over the same items, each proposing
   its top ``candidates``;
2. fusion of the two: by default cosine + ``lexical_weight`` x BM25 / (the query's best
   BM25), or reciprocal rank fusion (Cormack et al., SIGIR 2009: ``sum 1 / (rrf_k +
   rank)``), which on LoCoMo dev fell below dense alone (docs/benchmarks.md);
3. context: an item gains a share of the score of the turn said just before or after it,
   a further share of the score of a question asked just before it (answers follow
   questions), a bonus when the message names its speaker, and a bonus when it was said
   on a date the message names (``client.memory_engine.dates``); the context signals are
   computed on a pool of rows (``EngineConfig.signal_pool``: the best, with the turns
   around them), so their cost does not grow with the index;
4. link expansion: the items linked to the best candidates join with a share of their
   parent's score, so a fact found by its words brings the facts written beside it.
Scores point up: higher means more relevant.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from client.embedding.protocol import Embedder, Vectors
from client.memory_engine.config import EngineConfig
from client.memory_engine.dates import date_match
from client.memory_engine.index import (
    ANN_CANDIDATES,
    MemoryIndex,
    Scores,
    tokenize,
    top_positions,
)

# What the rerank head sees of each candidate; "retrieval" is the score search gave it.
FEATURES = (
    "retrieval",
    "dense",
    "lexical",
    "fused",
    "context",
    "speaker",
    "linked",
    "persona",
    "date",
    "answer",
    "session",
)
LINK_PARENTS = 10  # how many of the best candidates lend their links


@dataclass(frozen=True, kw_only=True)
class Stages:
    """Which stages run (the benchmark's rows switch them; the engine runs all)."""

    dense: bool = True
    lexical: bool = True
    context: bool = True  # what was said around an item, and by whom
    links: bool = True


ALL_STAGES = Stages()


@dataclass(kw_only=True)
class Candidate:
    id: str
    text: str
    score: float
    features: dict[str, float] = field(default_factory=dict)
    via: str = "search"  # "search" or "link:<parent id>"


def search(
    index: MemoryIndex,
    message: str,
    query: Vectors,
    config: EngineConfig,
    stages: Stages | None = None,
    persona: Vectors | None = None,
    nameless: Vectors | None = None,
) -> list[Candidate]:
    """Candidates for ``message`` (unit vector ``query``), best first. ``nameless``: the
    message's vector without the speakers' names (:func:`query_vectors`), if it names any."""
    stages = stages or ALL_STAGES
    if len(index) == 0:
        return []
    size = len(index)
    dense = _dense(index, query, nameless, config) if stages.dense else np.zeros(size, np.float32)
    lexical = index.lexical_scores(message) if stages.lexical else np.zeros(size, np.float32)
    if stages.dense and stages.lexical and index.uses_ann():
        _exact_where_lexical(index, dense, lexical, query, nameless, config)
    top_lexical = float(lexical.max()) if lexical.size else 0.0
    lexical_share = lexical / top_lexical if top_lexical > 0 else lexical
    base = _fuse(dense, lexical, config, stages)
    named = _named(index, message, config, stages)
    pool = signal_pool(index, base + named.bonus, config.signal_pool)
    signals = _context(index, pool, base, named, config, stages)
    total = base[pool] + signals.bonus
    candidates: dict[str, Candidate] = {}
    for at in top_positions(total, config.candidates):
        position = int(pool[at])
        if base[position] <= 0.0 and not stages.dense:
            continue  # lexical only: an item sharing no word with the message is no candidate
        entry = index.at(position)
        features = {
            "dense": float(dense[position]),
            "lexical": float(lexical_share[position]),
            "fused": float(base[position]),
            "context": float(signals.bonus[at]),
            "speaker": float(named.speaker[position]),
            "linked": 0.0,
            "date": float(named.date[position]),
            "answer": float(signals.answer[at]),
            "session": float(signals.session[at]),
        }
        candidates[entry.id] = Candidate(
            id=entry.id, text=entry.text, score=float(total[at]), features=features
        )
    if stages.links and config.link_weight > 0:
        _expand_links(index, candidates, config, dense, lexical_share, named.date)
    ranked = sorted(candidates.values(), key=lambda c: -c.score)
    _add_persona_feature(index, ranked, persona)
    return ranked


def query_vectors(
    embedder: Embedder, index: MemoryIndex, message: str, config: EngineConfig
) -> tuple[Vectors, Vectors | None]:
    """The message's unit vector, and (one batch) that of the message without the indexed
    speakers' names when it names one and ``nameless_weight`` > 0, else None."""
    nameless = nameless_message(index, message) if config.nameless_weight > 0 else None
    vectors = embedder.embed([message] if nameless is None else [message, nameless])
    return vectors[0], (vectors[1] if nameless is not None else None)


_NAME = re.compile(r"\b(\w+)(?:['\u2019]s)?\b")


def nameless_message(index: MemoryIndex, message: str) -> str | None:
    """``message`` without the names (and their "'s") of the people whose words are indexed;
    None when it names nobody or is nothing but names.

    Why: "What books has John read?" embeds close to every turn John said (the turns are
    embedded with their speakers' names), which crowds out the turns about books; the
    speaker bonus already says who. On LoCoMo dev, mixing this vector's cosine in lifted
    evidence recall@25 by about a point (docs/benchmarks.md).
    """
    names = index.speakers()
    stripped = _NAME.sub(lambda m: "" if m.group(1).lower() in names else m.group(0), message)
    if stripped == message or not re.search(r"\w", stripped):
        return None
    return " ".join(stripped.split())


def _dense(
    index: MemoryIndex, query: Vectors, nameless: Vectors | None, config: EngineConfig
) -> Scores:
    """Cosine with the message, mixed with the cosine with its name-free version."""
    dense = index.dense_scores(query)
    share = config.nameless_weight
    if nameless is None or share == 0:
        return dense
    return np.asarray((1 - share) * dense + share * index.dense_scores(nameless), np.float32)


def _exact_where_lexical(
    index: MemoryIndex,
    dense: Scores,
    lexical: Scores,
    query: Vectors,
    nameless: Vectors | None,
    config: EngineConfig,
) -> None:
    """With the approximate index, give the ``ANN_CANDIDATES`` rows BM25 ranks best their
    exact dense score too (in place).

    Why: a row the approximate index did not propose carries the lowest proposed cosine,
    above its true one, so every BM25 match among the other 99% of rows rose above its
    true fused score and crowded the top: at 100k items the engine kept 71.6% of the
    memories the exact scan keeps, 99.2% when those rows had their true cosine
    (docs/benchmarks.md, Scale). Hybrid search scores the union of both candidate lists
    on both signals; this costs one small matrix-vector product.
    """
    rows = [p for p in top_positions(lexical, ANN_CANDIDATES) if lexical[p] > 0]
    if not rows:
        return
    vectors = index.rows(rows)
    exact = vectors @ query.astype(np.float32)
    share = config.nameless_weight
    if nameless is not None and share > 0:
        exact = (1 - share) * exact + share * (vectors @ nameless.astype(np.float32))
    dense[rows] = exact


def _fuse(dense: Scores, lexical: Scores, config: EngineConfig, stages: Stages) -> Scores:
    """The fused relevance of every row (higher is better)."""
    if config.fusion == "rrf":
        fused = np.zeros(dense.shape[0], dtype=np.float32)
        for on, scores in ((stages.dense, dense), (stages.lexical, lexical)):
            if on:
                ranking = [p for p in top_positions(scores, config.candidates) if scores[p] != 0]
                for rank, position in enumerate(ranking):
                    fused[position] += (config.rrf_k + 1) / (config.rrf_k + rank + 1)
        return fused
    # Convex: cosine plus a share of BM25 scaled by the query's best BM25 score, so the
    # lexical term lies in [0, 1] like the cosine whatever the query's length.
    top = float(lexical.max()) if stages.lexical and lexical.size else 0.0
    share = lexical / top if top > 0 else np.zeros_like(lexical)
    if not stages.dense:
        return np.asarray(share, dtype=np.float32)
    weight = config.lexical_weight if stages.lexical else 0.0
    return np.asarray(dense + weight * share, dtype=np.float32)


@dataclass(frozen=True)
class Named:
    """Per row (all rows): the bonuses for a speaker or a date the message names."""

    bonus: Scores  # speaker_weight x speaker + date_weight x date
    speaker: Scores  # 1 when said by a person the message names
    date: Scores  # match with a date the message names (dates.date_match)


@dataclass(frozen=True)
class Signals:
    """Per row of the signal pool: the context bonus in all, and the parts the head sees."""

    bonus: Scores  # every bonus, the named speaker's and date's included
    answer: Scores  # fused score of the question asked just before (0 if none)
    session: Scores  # best fused score in the item's session


def _named(index: MemoryIndex, message: str, config: EngineConfig, stages: Stages) -> Named:
    """The speaker and date bonuses: over every row, but only when the message names one
    (a row they lift may lie far below the best fused scores, so they choose the pool)."""
    zeros = np.zeros(len(index), dtype=np.float32)
    if not stages.context:
        return Named(zeros, zeros, zeros)
    named = _named_speakers(index, message)
    speaker = index.said_by(named) if named else zeros
    date = date_match(index.times(), message) if config.date_weight > 0 else zeros
    bonus = config.speaker_weight * speaker + config.date_weight * date
    return Named(np.asarray(bonus, dtype=np.float32), speaker, date)


def signal_pool(index: MemoryIndex, scores: Scores, size: int) -> npt.NDArray[np.int64]:
    """Rows (ascending) whose context signals are computed: the ``size`` best ``scores``
    and the turns said just before and after them; every row when the index is no larger.

    A row gains context from its neighbours and its session's best row, which a pool of
    the best rows holds; outside it, a row would need a bonus larger than the gap to the
    pool's last score to reach the candidates. This keeps a query's cost in the context
    stage proportional to ``size``, not to the index (docs/benchmarks.md, Scale).
    """
    if len(index) <= size:
        return np.arange(len(index), dtype=np.int64)
    top = np.argpartition(-scores, size - 1)[:size]
    before, after = index.neighbours()
    rows = np.concatenate([top, before[top], after[top]])
    return np.unique(rows[rows >= 0])


def _context(
    index: MemoryIndex,
    pool: npt.NDArray[np.int64],
    base: Scores,
    named: Named,
    config: EngineConfig,
    stages: Stages,
) -> Signals:
    """What was said around each row of ``pool``, by whom and when.

    The answer to "what did X research?" is often the turn after X was asked about it:
    each item gains ``context_weight`` x the best fused score of the turn said just
    before or after it (a fact: of the turn it came from), and ``answer_weight`` x the
    fused score of the turn before it when that turn asked a question.
    """
    zeros = np.zeros(pool.shape[0], dtype=np.float32)
    if not stages.context:
        return Signals(zeros, zeros, zeros)
    all_before, all_after = index.neighbours()
    before, after = all_before[pool], all_after[pool]
    around = np.maximum(_score_at(base, before), _score_at(base, after))
    asked = (before >= 0) & index.asks()[before]  # the row before asked a question
    answer = np.where(asked, _score_at(base, before), 0.0).astype(np.float32)
    session = session_best(index.sessions()[pool], np.maximum(base[pool], 0.0))
    bonus = (
        named.bonus[pool]
        + config.context_weight * around
        + config.answer_weight * answer
        + config.session_weight * session
    )
    return Signals(np.asarray(bonus, dtype=np.float32), answer, session)


def _score_at(base: Scores, rows: npt.NDArray[np.int64]) -> Scores:
    """``max(base, 0)`` at ``rows``; 0 where a row is -1 (no such neighbour)."""
    return np.where(rows >= 0, np.maximum(base[rows], 0.0), 0.0).astype(np.float32)


def session_best(sessions: npt.NDArray[np.int64], scores: Scores) -> Scores:
    """Per row, the best of ``scores`` among the rows of its session (0 without a session)."""
    best = np.zeros(int(sessions.max(initial=-1)) + 2, dtype=np.float32)  # last: no session
    np.maximum.at(best, sessions, scores)  # session -1 writes the last slot
    best[-1] = 0.0
    return np.asarray(best[sessions], dtype=np.float32)


def _named_speakers(index: MemoryIndex, message: str) -> set[str]:
    return index.speakers() & set(tokenize(message))


def _expand_links(
    index: MemoryIndex,
    candidates: dict[str, Candidate],
    config: EngineConfig,
    dense: Scores,
    lexical_share: Scores,
    date: Scores,
) -> None:
    """The best candidates lend ``link_weight`` x their score to the items linked to them."""
    parents = sorted(candidates.values(), key=lambda c: -c.score)[:LINK_PARENTS]
    for parent in parents:
        for linked_id in index.entry(parent.id).links:
            if linked_id not in index:
                continue
            inherited = config.link_weight * parent.score
            existing = candidates.get(linked_id)
            if existing is not None:
                existing.features["linked"] = 1.0
                existing.score = max(existing.score, inherited)
                continue
            position = index.position(linked_id)
            candidates[linked_id] = Candidate(
                id=linked_id,
                text=index.at(position).text,
                score=inherited,
                via=f"link:{parent.id}",
                features={
                    "dense": float(dense[position]),
                    "lexical": float(lexical_share[position]),
                    "fused": 0.0,
                    "context": 0.0,
                    "speaker": parent.features["speaker"],
                    "linked": 1.0,
                    "date": float(date[position]),
                    "answer": 0.0,
                    "session": 0.0,
                },
            )


def _add_persona_feature(
    index: MemoryIndex, ranked: list[Candidate], persona: Vectors | None
) -> None:
    """max cosine of each candidate with the persona's facts (0 without a persona)."""
    if persona is None or persona.shape[0] == 0 or not ranked:
        for candidate in ranked:
            candidate.features["persona"] = 0.0
        return
    rows = [index.position(c.id) for c in ranked]
    best = (index.rows(rows) @ persona.T).max(axis=1)
    for candidate, value in zip(ranked, best, strict=True):
        candidate.features["persona"] = float(value)
