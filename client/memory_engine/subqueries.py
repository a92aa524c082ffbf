"""Sub-queries for questions that gather several memories, and their rank fusion.

A multi-hop list question ("What books has John read?") has evidence that names the
items but not the list's word ("I just finished this amazing fantasy series"), spread
over sessions. One way to reach such turns is to search for each part of the question on
its own and fuse the rankings: each content word, each clause ("What did X do, and where
did Y go?"), or each person the question names. Fusion is reciprocal-rank (Cormack,
Clarke & Buettcher, SIGIR 2009): a row scores ``1 / (k + rank)`` in the whole question's
ranking plus ``share`` x the mean of the same over the sub-queries' rankings.

Measured on LoCoMo dev (docs/benchmarks.md, "Evidence recall on LoCoMo", fourth round;
``bench/locomo_subqueries.py``): no share moves recall@25 held out, so the engine does
not use them; the functions are the benchmark's, kept small and pure so a later signal
can reuse them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from client.memory_engine.index import tokenize

Scores = npt.NDArray[np.float32]
RRF_K = 60  # Cormack et al. (2009)'s constant
# Words that frame a question rather than say what it is about ("What kind of things has
# she ..."): question words, auxiliaries, pronouns and quantifiers that BM25's short stop
# list (bm25s, 33 words) keeps.
_FRAME_WORDS = (
    "what which who whom whose where when why how has have had does did do done were would"
    " could should can may might must shall he she her hers him his they them their theirs"
    " we us our you your me my mine kind kinds type types thing things way ways some any"
    " both also ever currently recently"
)
_FRAME = frozenset(_FRAME_WORDS.split())
_CLAUSE_BREAK = re.compile(r",|;|\band\b|\bor\b|\bbesides\b", re.IGNORECASE)


def content_words(message: str, names: Sequence[str] = ()) -> list[str]:
    """The message's words that say what it is about, in order, each once: BM25's tokens
    (stop words gone) without ``names`` (lower case) and the words that frame a question."""
    skip = _FRAME | {n.lower() for n in names}
    return [w for w in dict.fromkeys(tokenize(message)) if w not in skip and w.isalpha()]


def clauses(message: str) -> list[str]:
    """The message's clauses (split at commas, semicolons, "and", "or", "besides") that hold
    a content word; an empty list when there are fewer than two (nothing to split)."""
    parts = [" ".join(p.split()) for p in _CLAUSE_BREAK.split(message)]
    kept = [p for p in parts if content_words(p)]
    return kept if len(kept) > 1 else []


def named_people(message: str, people: Sequence[str]) -> list[str]:
    """The ``people`` (lower-case names) the message names, sorted; a per-person sub-query
    needs two or more, so fewer give an empty list."""
    named = sorted(set(people) & set(tokenize(message)))
    return named if len(named) > 1 else []


def ranks(scores: Scores) -> npt.NDArray[np.float64]:
    """Each row's rank (0 = best) under ``scores``; ties keep row order."""
    order = np.argsort(-scores, kind="stable")
    out = np.empty(scores.shape[0], dtype=np.float64)
    out[order] = np.arange(scores.shape[0])
    return out


def rrf_fuse(main: Scores, subs: Sequence[Scores], share: float, k: int = RRF_K) -> Scores:
    """``1 / (k + rank_main) + share x mean_j 1 / (k + rank_j)`` per row (Cormack et al.
    2009 with a weight on the sub-queries); ``main`` itself when there is no sub-query or
    the share is 0, so the whole question's order is kept exactly."""
    if share < 0:
        raise ValueError(f"share must not be negative, got {share}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not subs or share == 0:
        return main
    for scores in subs:
        if scores.shape != main.shape:
            raise ValueError(f"sub-query scores {scores.shape} do not match {main.shape}")
    fused = 1.0 / (k + ranks(main))
    fused += share * np.mean([1.0 / (k + ranks(s)) for s in subs], axis=0)
    return np.asarray(fused, dtype=np.float32)
