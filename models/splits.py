"""Who and what is train or test: unseen users, later turns, and leak-free extra data.

Protocol (the reranking issue): users are dialogues. 20% of users are held out entirely
(unseen users). For every other user, the later 30% of their exchanges are test (later
turns) and the earlier 70% train. Extra data built on the same people may only add
training material that is neither a held-out user's nor later than a seen user's test
turns: Synthetic-Persona-Chat re-imagines the pair's conversation (no time order, so
"parallel"); MSC session 1 *is* the ConvAI2 conversation and sessions 2-4 come after it,
so MSC never qualifies for this benchmark.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from models.ranking_task import Utterance

HOLDOUT_FRACTION = 0.2
LATER_FRACTION = 0.3


class Timing(StrEnum):
    """When extra material happened relative to the user's ConvAI2 dialogue."""

    PARALLEL = "parallel"  # no order (a synthetic re-telling of the pair's chat)
    SAME_DIALOGUE = "same_dialogue"  # the dialogue itself, test turns included
    AFTER_DIALOGUE = "after_dialogue"  # a later session


@dataclass(frozen=True)
class UserSplit:
    seen: frozenset[str]
    unseen: frozenset[str]


@dataclass(frozen=True)
class Splits:
    train: list[Utterance]
    later_turns: list[Utterance]
    unseen_users: list[Utterance]


def split_users(
    user_ids: Iterable[str], *, seed: int, holdout_fraction: float = HOLDOUT_FRACTION
) -> UserSplit:
    ordered = sorted(set(user_ids))
    order = np.random.default_rng(seed).permutation(len(ordered))
    held = round(holdout_fraction * len(ordered))
    unseen = frozenset(ordered[i] for i in order[:held])
    return UserSplit(seen=frozenset(ordered) - unseen, unseen=unseen)


def first_test_position(exchanges: int, later_fraction: float = LATER_FRACTION) -> int:
    """Index of a seen user's first test exchange: the last ceil(30%) are test."""
    return exchanges - max(1, math.ceil(later_fraction * exchanges))


def split_utterances(utterances: Sequence[Utterance], users: UserSplit) -> Splits:
    by_user: dict[str, list[Utterance]] = defaultdict(list)
    for utterance in utterances:
        by_user[utterance.user_id].append(utterance)
    train, later, unseen = [], [], []
    for user_id in sorted(by_user):
        history = sorted(by_user[user_id], key=lambda u: u.position)
        if user_id in users.unseen:
            unseen += history
            continue
        cutoff = first_test_position(len(history))
        train += history[:cutoff]
        later += history[cutoff:]
    return Splits(train=train, later_turns=later, unseen_users=unseen)


def admissible_extra(user_id: str | None, timing: Timing, users: UserSplit) -> bool:
    """May extra material of ``user_id`` with this timing be used for training?"""
    return user_id is not None and user_id in users.seen and timing is Timing.PARALLEL
