"""Statement -> utterance pairs from Multi-Session Chat, to train the memory adapter.

``msc/msc_personasummary/session_N/valid.txt.xz``: each utterance that reveals a persona
fact carries it in ``persona_text`` (crowd-annotated, e.g. "I watch horror movies." for
"I just got done watching a horror movie"). Each sentence of it is a query; its positive
is the utterance written as the memory engine embeds a LoCoMo turn (writer.window_texts:
the turn with the one before and after, each as "Name: text"), its negatives the
dialogue's other utterances. MSC has no names: each dialogue's two speakers get two names
from a fixed list, so the adapter sees memories shaped like the engine's.

Sessions 1-3 only: session 4 is what ``bench.msc_prompt`` retrieves from, and stays unseen.
Not LoCoMo: nothing here comes from the conversations the adapter is scored on.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.msc_persona import msc_episodes
from client.memory_engine.disclosure import split_sentences
from models.memory_adapter import PairGroup

SESSIONS = (1, 2, 3)
FOLLOWUP_MATCH = 0.3  # cosine of a followup with its nearest persona sentence; set a priori
NAMES = (
    "Alex", "Maria", "James", "Priya", "Tom", "Sofia", "David", "Aisha", "Ben", "Elena",
    "Chris", "Nora", "Sam", "Lucy", "Omar", "Grace", "Leo", "Hannah", "Ravi", "Julia",
)  # fmt: skip
Embed = Callable[[list[str]], npt.NDArray[np.float32]]


def episode_texts(episode: dict[str, Any], number: int) -> tuple[list[str], list[tuple[str, int]]]:
    """(each utterance's window view, (statement, utterance position) per persona sentence)."""
    turns = episode["dialog"]
    names = {
        "bot_0": NAMES[(2 * number) % len(NAMES)],
        "bot_1": NAMES[(2 * number + 1) % len(NAMES)],
    }
    said = [f"{names.get(str(t['id']), 'Sam')}: {t['text']}" for t in turns]
    windows = ["\n".join(said[max(0, i - 1) : i + 2]) for i in range(len(said))]
    statements = [
        (sentence, position)
        for position, turn in enumerate(turns)
        for sentence in split_sentences(str(turn.get("persona_text") or ""))
    ]
    return windows, statements


def pair_groups(
    root: Path, embed: Embed, limit: int | None = None, source: str = "statements"
) -> list[PairGroup]:
    """One group per dialogue with at least one annotated statement.

    ``source="statements"``: each persona sentence -> the utterance it was annotated on.
    ``source="followups"``: the record's ``followup`` (a question the next session opens
    with about this one, "So, have you read any more books since our last chat?") -> the
    utterance whose persona sentence is nearest to it by cosine (at least
    ``FOLLOWUP_MATCH``; the annotation is the clean summary, the utterance the noisy turn):
    question-shaped queries like LoCoMo's, with weak labels.
    """
    episodes = list(msc_episodes(root, SESSIONS, limit))
    texts = [episode_texts(e, n) for n, e in enumerate(episodes)]
    followups = [str(e.get("followup") or "") for e in episodes]
    kept = [i for i, (w, s) in enumerate(texts) if s and len(w) > 1]
    everything = [t for i in kept for t in (*texts[i][0], *(q for q, _ in texts[i][1]))]
    asked = [followups[i] for i in kept] if source == "followups" else []
    vectors = embed(everything + [a for a in asked if a])
    groups, at, asked_at = [], 0, len(everything)
    for i in kept:
        windows, statements = texts[i]
        memories = vectors[at : at + len(windows)]
        queries = vectors[at + len(windows) : at + len(windows) + len(statements)]
        at += len(windows) + len(statements)
        positions = [p for _, p in statements]
        if source == "followups":
            if not followups[i]:
                continue
            question, asked_at = vectors[asked_at : asked_at + 1], asked_at + 1
            nearest = int(np.argmax(queries @ question[0]))
            if float(queries[nearest] @ question[0]) < FOLLOWUP_MATCH:
                continue
            queries, positions = question, [positions[nearest]]
        positive = np.zeros((len(queries), len(windows)), dtype=np.bool_)
        positive[np.arange(len(queries)), positions] = True
        groups.append(PairGroup(queries, memories, positive))
    return groups
