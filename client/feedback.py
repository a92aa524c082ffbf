"""Chat events -> sealed training examples for the reranking head.

The signals a person gives without being asked to label anything: which of several
candidate replies they picked, how they rated replies, a thumbs up or down, and which
retrieved memories an answer used without the person correcting it.
"""

from __future__ import annotations

from collections.abc import Sequence

from client.training_pairs import Signal, TrainingPair


def picked_reply(
    context: str, candidates: Sequence[str], picked: int, *, session_id: str | None = None
) -> TrainingPair:
    return TrainingPair(
        context=context,
        candidates=tuple(candidates),
        chosen=picked,
        signal=Signal.PICKED,
        session_id=session_id,
    )


def rated_replies(
    context: str,
    candidates: Sequence[str],
    ratings: Sequence[float],
    *,
    session_id: str | None = None,
) -> TrainingPair | None:
    """The best-rated reply is the label; equal ratings say nothing, so give None."""
    if len(ratings) != len(candidates):
        raise ValueError(f"{len(ratings)} ratings for {len(candidates)} candidates")
    if len(set(ratings)) < 2:
        return None
    best = max(range(len(ratings)), key=lambda i: ratings[i])
    spread = max(ratings) - min(ratings)
    margin = (ratings[best] - sorted(ratings)[-2]) / spread
    # A clear winner counts fully; a narrow one still counts, at least a quarter.
    return TrainingPair(
        context=context,
        candidates=tuple(candidates),
        chosen=best,
        signal=Signal.RATED,
        weight=max(0.25, margin),
        session_id=session_id,
    )


def thumbs(
    context: str, candidates: Sequence[str], shown: int, *, up: bool, session_id: str | None = None
) -> TrainingPair:
    """A thumbs up makes ``shown`` the label; a thumbs down pushes it below the others."""
    return TrainingPair(
        context=context,
        candidates=tuple(candidates),
        chosen=shown,
        signal=Signal.THUMBS_UP if up else Signal.THUMBS_DOWN,
        session_id=session_id,
    )


def memories_used(
    context: str,
    retrieved: Sequence[str],
    used: Sequence[int],
    corrected: Sequence[int] = (),
    *,
    session_id: str | None = None,
) -> list[TrainingPair]:
    """One example per memory the answer used and the person did not correct; a corrected
    one becomes a "not this one" example."""
    pairs = [
        TrainingPair(
            context=context,
            candidates=tuple(retrieved),
            chosen=index,
            signal=Signal.MEMORY_USED,
            session_id=session_id,
        )
        for index in used
        if index not in corrected
    ]
    pairs += [
        thumbs(context, retrieved, index, up=False, session_id=session_id) for index in corrected
    ]
    return pairs
