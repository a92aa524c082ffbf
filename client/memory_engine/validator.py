"""The validator: the last gate before the prompt, with a trace of why each item stayed.

It drops an item that a newer contradicting item superseded (the persona's history keeps
the old value; the prompt should not), an item whose relevance is below the floor
(relative to the best candidate, so the floor means the same for any scorer), and a
repeat of an item already kept, and (issue 13) an item that names something the person
cannot have (their persona's stance, models.stance: an allergy, a diet rule) unless the
item itself states it ("I'm allergic to peanuts" stays; "the peanut satay at Joe's is
great" goes); an item naming something they merely avoid is ranked after all the others
instead (the engine passes the stance only for a request, models.stance_stage.is_request:
recalling what was said needs those memories). Everything it keeps or drops is written to the trace,
which the chat client shows on ``/why``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from client.memory_engine.index import MemoryIndex
from client.memory_engine.retrieval import Candidate
from models.stance import Stance, StanceClause, object_items, parse_stance
from models.stance_mentions import mention

CANNOT_HAVE = "cannot have"


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
    ``avoided``: the persona's avoids / cannot clauses. An item naming what the person
    cannot have (allergy, diet rule) is dropped; one naming what they avoid is ranked
    after every other item (kept only if there is room), since a memory about a thing
    is not always a recommendation of it."""
    stance = {c.id: against_stance(c.text, avoided) for c in candidates}
    order = sorted(candidates, key=lambda c: stance[c.id] is not None)  # stable
    kept: list[Candidate] = []
    trace: list[TraceEntry] = []
    seen: set[str] = set()
    best = max((c.score for c in candidates), default=0.0)
    for candidate in order:
        against = stance[candidate.id]
        reason = _drop_reason(candidate, index, seen, best, floor)
        if reason is None and against is not None and CANNOT_HAVE in against:
            reason = against
        if reason is None and len(kept) >= top_k:
            reason = f"beyond the top {top_k}" + (f" (ranked last: {against})" if against else "")
        if reason is None:
            kept.append(candidate)
            seen.add(_normalised(candidate.text))
        relevant = f"relevant ({candidate.via})" + (f", ranked last: {against}" if against else "")
        trace.append(
            TraceEntry(
                id=candidate.id,
                text=candidate.text,
                score=candidate.score,
                kept=reason is None,
                reason=reason or relevant,
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
                verb = CANNOT_HAVE if clause.stance is Stance.CANNOT else "avoids"
                return f"names {item}, which the person {verb} ({clause.object})"
    return None


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())
