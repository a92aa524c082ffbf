"""The generalisation benchmark's held-out sets as ranking examples.

- Multi-Session Chat validation, sessions 2-4 (issue 13's protocol): every exchange whose
  previous turn is the other speaker's; context = that turn; persona = the speaker's
  annotated facts (``agg_persona_list``) from the pair's *earlier* sessions; 19
  distractors drawn with a fixed seed from replies of *other speaker pairs* (so neither
  the speaker nor the partner supplies one). Gold is candidate 0.
- PrefEval multiple choice: context = the question, persona = the one stated
  preference, candidates = the four options shuffled with a fixed seed (the gold index is
  kept per row, models.data.prefeval).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from models.data.locations import MSC_SUMMARY_SESSIONS, PREFEVAL_MCQ, data_dir, require
from models.data.msc import MscSession, load_msc_session
from models.data.prefeval import PrefEvalItem, load_prefeval
from models.ranking_task import RankingExample, Utterance, build_examples

MSC_EVAL_SESSIONS = (2, 3, 4)


def msc_sessions(root: Path | None) -> list[MscSession]:
    folder = data_dir(root)
    return [
        session
        for number, path in enumerate(MSC_SUMMARY_SESSIONS, start=1)
        for session in load_msc_session(require(folder, path), number)
    ]


def earlier_facts(sessions: Sequence[MscSession]) -> dict[tuple[str, int, int], tuple[str, ...]]:
    """(pair, speaker, session) -> the speaker's facts revealed in sessions before it."""
    revealed: dict[tuple[str, int], dict[int, tuple[str, ...]]] = defaultdict(dict)
    for session in sessions:
        for speaker in (0, 1):
            revealed[(session.pair_id, speaker)][session.session] = session.facts[speaker]
    known: dict[tuple[str, int, int], tuple[str, ...]] = {}
    for (pair, speaker), by_session in revealed.items():
        for number in by_session:
            facts = (f for n in sorted(by_session) if n < number for f in by_session[n])
            known[(pair, speaker, number)] = tuple(dict.fromkeys(facts))
    return known


def msc_utterances(
    sessions: Sequence[MscSession], *, pairs: set[str] | None = None
) -> list[Utterance]:
    """Replies in sessions 2-4; ``user_id`` is the *pair* (for distractor drawing) and
    ``source`` carries the speaker; msc_examples turns them into speaker ids."""
    facts = earlier_facts(sessions)
    utterances = []
    for session in sessions:
        if session.session not in MSC_EVAL_SESSIONS:
            continue
        if pairs is not None and session.pair_id not in pairs:
            continue
        for index, (who, text) in enumerate(session.turns):
            if index and session.turns[index - 1][0] != who:
                persona = facts[(session.pair_id, who, session.session)]
                position = 1000 * session.session + index
                previous = session.turns[index - 1][1]
                utterances.append(
                    Utterance(session.pair_id, position, previous, text, persona, f"msc-{who}")
                )
    return utterances


def msc_examples(utterances: Sequence[Utterance], *, seed: int) -> list[RankingExample]:
    """19 distractors from other pairs (build_examples excludes the same ``user_id``, here
    the pair), then the user id becomes the speaker's: ``<pair>-<speaker>``."""
    examples = build_examples(utterances, seed=seed)
    return [replace(e, user_id=f"{e.user_id}-{e.source.removeprefix('msc-')}") for e in examples]


@dataclass(frozen=True)
class PrefEvalSet:
    items: list[PrefEvalItem]
    examples: list[RankingExample]
    gold: list[int]


def prefeval_set(root: Path | None, *, seed: int) -> PrefEvalSet:
    items = load_prefeval(data_dir(root) / PREFEVAL_MCQ, seed=seed)
    examples = [
        RankingExample(
            f"prefeval-{item.topic}-{number}",
            0,
            item.question,
            (item.preference,),
            item.options,
            f"prefeval-{item.topic}",
        )
        for number, item in enumerate(items)
    ]
    return PrefEvalSet(items, examples, [item.gold for item in items])
