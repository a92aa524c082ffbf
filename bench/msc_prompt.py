"""Personalisation without a language model on Multi-Session Chat: the chat's prompt vs raw history.

Run from the repository root::

    .venv/bin/python -m bench.msc_prompt --out bench/results/msc_prompt.json
    .venv/bin/python -m bench.msc_prompt --quick   # the first 12 speaker pairs
    .venv/bin/python -m bench.msc_prompt --pairs 100   # the first 100 (of 500)

Data: ``msc/msc_personasummary/session_{1..4}/valid.txt.xz``. Each speaker of each pair
in turn is the device's owner. Sessions 1-3 are written through the real chat path, a
sealed store and the memory engine (the owner's turns as the user's, the partner's as the
assistant's, ``end_session`` after each, so the persona update every 3 sessions runs).
In session 4, each owner turn is a message: the chat assembles its prompt
(``ChatSession.prompt_for``: persona facts and retrieved memories) before the turn is
stored. The turn's gold facts are the sentences of its ``persona_text`` annotation that
the owner had already revealed in sessions 1-3 (MiniLM cosine >= 0.7 to one of those
sessions' annotated facts); turns with none are not scored (no history can supply a fact
never said). A gold fact appears in a prompt when one sentence of its history part has
cosine >= 0.7 to it (``bench.msc_persona``'s threshold); the message itself and the
session-4 turns, which every method has alike, are not counted. Against it: the last N
turns of raw sessions 1-3, N fixed, or as many as fit in the tokens the chat's history
part used for that turn; and all of sessions 1-3 (the ceiling). Tokens: all-MiniLM-L6-v2
WordPiece (``client.llm.token_budget.WordPieceCounter``) of the history part's lines.
"""

from __future__ import annotations

import argparse
import json
import lzma
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.generalisation_data import msc_sessions
from bench.reporting import data_benchmark_main, positive_int, table
from client.app_profiles import builtin_profile
from client.chat import ChatSession
from client.embedding import default_embedder, encoder_dir
from client.embedding.protocol import Embedder
from client.llm import OfflineBackend
from client.llm.token_budget import WordPieceCounter
from client.memory_engine import MemoryEngine
from client.memory_engine.disclosure import split_sentences
from client.profile import Profile, ProfileSettings
from models.data.locations import MSC_SUMMARY_SESSIONS, data_dir, require
from models.data.msc import MscSession
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams

DEFAULT_OUT = Path("bench/results/msc_prompt.json")
MATCH = 0.7
QUICK_PAIRS = 12
LAST_SESSION = 4
FIXED_TURNS = (5, 10, 20)
CHAT = "chat prompt (persona + memories)"
SAME_TOKENS = "last turns, same tokens as the chat"
EVERYTHING = "all of sessions 1-3 (ceiling)"
# The benchmark's stores are temporary: the cheapest key derivation the store accepts.
FAST_KDF = KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS)
LastTurns = list[tuple[int, str, tuple[str, ...]]]  # (speaker, text, persona_text sentences)


@dataclass(frozen=True)
class Scored:
    """One method on one turn: gold facts found, gold facts, tokens of its history part."""

    found: int
    gold: int
    tokens: int


class Vectors:
    """MiniLM vectors of sentences, each embedded once."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._cache: dict[str, np.ndarray] = {}

    def of(self, texts: Sequence[str]) -> np.ndarray:
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            self._cache.update(zip(missing, self._embedder.embed(missing), strict=True))
        if not texts:
            return np.zeros((0, self._embedder.dimension), np.float32)
        return np.stack([self._cache[t] for t in texts])

    def matched(self, gold: Sequence[str], sentences: Sequence[str]) -> int:
        """How many of ``gold`` have a sentence at cosine >= MATCH."""
        if not gold or not sentences:
            return 0
        return int(((self.of(gold) @ self.of(sentences).T) >= MATCH).any(axis=1).sum())


def last_session_turns(root: Path | None) -> dict[str, LastTurns]:
    """Session 4 of each pair, turn by turn with each turn's persona_text sentences."""
    path = require(data_dir(root), MSC_SUMMARY_SESSIONS[LAST_SESSION - 1])
    pairs: dict[str, LastTurns] = {}
    with lzma.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            episode = json.loads(line)
            pairs[str(episode["initial_data_id"])] = [
                (
                    int(str(turn["id"]).removeprefix("bot_")),
                    str(turn["text"]),
                    tuple(split_sentences(str(turn.get("persona_text") or ""))),
                )
                for turn in episode["dialog"]
            ]
    return pairs


def raw_lines(history: Sequence[MscSession], owner: int) -> list[str]:
    return [
        f"{'user' if who == owner else 'assistant'}: {text}"
        for session in history
        for who, text in session.turns
    ]


def sentences_of(lines: Sequence[str]) -> list[str]:
    return [s for line in lines for s in split_sentences(line.partition(": ")[2] or line)]


def last_within(lines: Sequence[str], tokens: int, counter: WordPieceCounter) -> list[str]:
    """The most recent lines whose joined size stays within ``tokens``."""
    kept: list[str] = []
    for line in reversed(lines):
        if counter.count("\n".join([line, *kept])) > tokens:
            break
        kept.insert(0, line)
    return kept


def write_history(engine: MemoryEngine, history: Sequence[MscSession], owner: int) -> None:
    for session in history:
        session_id = f"msc-{session.session}"
        for who, text in session.turns:
            engine.add_turn(session_id, text, role="user" if who == owner else "assistant")
        engine.end_session(session_id)


def score_owner(
    history: Sequence[MscSession],
    last: LastTurns,
    owner: int,
    embedder: Embedder,
    folder: Path,
    tools: tuple[Vectors, WordPieceCounter],
) -> list[dict[str, Scored]]:
    vectors, counter = tools
    known = [f for session in history for f in session.facts[owner]]
    raw = raw_lines(history, owner)
    store = folder / f"{history[0].pair_id}-{owner}.fpstore"
    results = []
    settings = ProfileSettings(turn_capacity=400)  # every MSC session fits
    with Profile.create(store, "benchmark passphrase", kdf=FAST_KDF, settings=settings) as profile:
        engine = MemoryEngine(profile, embedder)
        write_history(engine, history, owner)
        chat = ChatSession(engine, OfflineBackend(), builtin_profile("tutor"))
        for who, text, annotated in last:
            gold = [g for g in annotated if vectors.matched([g], known)] if who == owner else []
            if gold:
                prompt, _ = chat.prompt_for(text)
                lines = [item.text for item in prompt.context.items]
                results.append(_methods(gold, lines, raw, vectors, counter))
            engine.add_turn(chat.session_id, text, role="user" if who == owner else "assistant")
    for leftover in store.parent.glob(f"{store.name}*"):
        leftover.unlink()
    return results


def _methods(
    gold: list[str],
    chat_lines: list[str],
    raw: list[str],
    vectors: Vectors,
    counter: WordPieceCounter,
) -> dict[str, Scored]:
    def scored(lines: Sequence[str], split: bool) -> Scored:
        sentences = sentences_of(lines) if split else [s for x in lines for s in split_sentences(x)]
        return Scored(vectors.matched(gold, sentences), len(gold), counter.count("\n".join(lines)))

    chat = scored(chat_lines, split=False)
    methods = {CHAT: chat, SAME_TOKENS: scored(last_within(raw, chat.tokens, counter), True)}
    for n in FIXED_TURNS:
        methods[f"last {n} turns"] = scored(raw[-n:], True)
    methods[EVERYTHING] = scored(raw, True)
    return methods


def summarise(turns: Sequence[dict[str, Scored]]) -> list[dict[str, Any]]:
    rows = []
    for method in turns[0] if turns else ():
        scored = [t[method] for t in turns]
        rows.append(
            {
                "method": method,
                "turns": len(scored),
                "all_gold_in_prompt_pct": round(
                    100 * float(np.mean([s.found == s.gold for s in scored])), 1
                ),
                "gold_fact_recall_pct": round(
                    100 * sum(s.found for s in scored) / sum(s.gold for s in scored), 1
                ),
                "mean_tokens": round(float(np.mean([s.tokens for s in scored])), 1),
            }
        )
    return rows


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    by_pair: dict[str, list[MscSession]] = {}
    for session in msc_sessions(args.data_dir):
        by_pair.setdefault(session.pair_id, []).append(session)
    last = last_session_turns(args.data_dir)
    candidates = [p for p in last if sorted(s.session for s in by_pair.get(p, [])) == [1, 2, 3, 4]]
    pairs = candidates[: QUICK_PAIRS if args.quick else args.pairs]
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    tools = (Vectors(embedder), WordPieceCounter())
    turns: list[dict[str, Scored]] = []
    with tempfile.TemporaryDirectory(prefix="msc-prompt-") as folder:
        for number, pair in enumerate(pairs, start=1):
            history = sorted((s for s in by_pair[pair] if s.session < LAST_SESSION), key=_n)
            for owner in (0, 1):
                turns += score_owner(history, last[pair], owner, embedder, Path(folder), tools)
            if number % 25 == 0:
                log(f"{number}/{len(pairs)} pairs, {len(turns)} scored turns")
    config = {"quick": args.quick, "pairs": len(pairs), "owners": 2 * len(pairs)}
    config |= {"pairs_with_four_sessions": len(candidates)}
    config |= {"match_cosine": MATCH, "scored_turns": len(turns)}
    return {"benchmark": "msc_prompt", "config": config, "rows": summarise(turns)}


def _n(session: MscSession) -> int:
    return session.session


def show(result: dict[str, Any]) -> None:
    header = ["method", "turns", "all gold in prompt %", "gold fact recall %", "mean tokens"]
    lines = [
        [
            row["method"],
            str(row["turns"]),
            f"{row['all_gold_in_prompt_pct']:.1f}",
            f"{row['gold_fact_recall_pct']:.1f}",
            f"{row['mean_tokens']:.1f}",
        ]
        for row in result["rows"]
    ]
    print("\n".join(table(header, lines)))


def main(argv: list[str] | None = None) -> int:
    return data_benchmark_main(
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        produce=produce,
        show=show,
        argv=argv,
        extra_arguments=lambda parser: parser.add_argument(
            "--pairs", type=positive_int, default=None, help="only the first N speaker pairs"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
