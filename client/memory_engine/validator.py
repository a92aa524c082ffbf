"""The validator: the last gate before the prompt, with a trace of why each item stayed.

It drops an item that a newer contradicting item superseded (the persona's history keeps
the old value; the prompt should not), an item whose relevance is below the floor
(relative to the best candidate, so the floor means the same for any scorer), and a
repeat of an item already kept, and (issue 13) an item that names something the person
avoids or cannot have (their persona's stance, models.stance) unless the item itself
states the avoidance ("I'm allergic to peanuts" stays; "the peanut satay at Joe's is
great" goes). Everything it keeps or drops is written to the trace,
which the chat client shows on ``/why``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from client.memory_engine.index import MemoryIndex
from client.memory_engine.retrieval import Candidate
from models.stance import Stance, StanceClause, object_items, parse_stance
from models.stance_mentions import mention


@dataclass(frozen=True, kw_only=True)
class TraceEntry:
    id: str
    text: str
    score: float
    kept: bool
    reason: str


def validate(
    candidates: Sequence[Candidate],
    index: MemoryIndex,
    *,
    floor: float,
    top_k: int,
    avoided: Sequence[StanceClause] = (),
) -> tuple[list[Candidate], list[TraceEntry]]:
    """The first ``top_k`` candidates that pass, in order, and a trace of every decision.
    ``avoided``: the persona's avoids / cannot clauses."""
    kept: list[Candidate] = []
    trace: list[TraceEntry] = []
    seen: set[str] = set()
    best = max((c.score for c in candidates), default=0.0)
    for candidate in candidates:
        reason = _drop_reason(candidate, index, seen, best, floor) or against_stance(
            candidate.text, avoided
        )
        if reason is None and len(kept) >= top_k:
            reason = f"beyond the top {top_k}"
        if reason is None:
            kept.append(candidate)
            seen.add(_normalised(candidate.text))
        trace.append(
            TraceEntry(
                id=candidate.id,
                text=candidate.text,
                score=candidate.score,
                kept=reason is None,
                reason=reason or f"relevant ({candidate.via})",
            )
        )
    return kept, trace


def _drop_reason(
    candidate: Candidate, index: MemoryIndex, seen: set[str], best: float, floor: float
) -> str | None:
    entry = index.entry(candidate.id)
    if entry.superseded_by:
        return f"superseded by a newer statement ({entry.superseded_by})"
    if best > 0 and candidate.score < floor * best:
        return f"below the relevance floor ({candidate.score:.3f} < {floor:.2f} x best)"
    if _normalised(candidate.text) in seen:
        return "repeats a kept item"
    return None


def against_stance(text: str, avoided: Sequence[StanceClause]) -> str | None:
    """Why ``text`` goes against the person's avoidances, or None. An avoided item counts
    only when every content word of it is named plainly ("gluten-free" does not name
    gluten; models.stance_mentions), so that a general word in an object ("foods") does
    not drop every memory about food."""
    if not avoided or any(c.stance.negative for c in parse_stance(text)):
        return None
    for clause in avoided:
        for item in object_items(clause.object):
            if mention(text, item).share == 1.0:
                verb = "cannot have" if clause.stance is Stance.CANNOT else "avoids"
                return f"recommends {item}, which the person {verb} ({clause.object})"
    return None


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())
