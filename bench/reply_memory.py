"""Reply selection with memory on ConvAI2: the head given the person's retrieved earlier turns.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python -m bench.reply_memory --out bench/results/reply_memory.json
    OMP_NUM_THREADS=1 .venv/bin/python -m bench.reply_memory --quick   # 250 users, one seed

Protocol, candidates, splits and seeds are those of ``bench.rerank_personachat`` (hits@1/20
with reconstructed candidates; unseen users and later turns). What is new: each user's
dialogue goes through the memory engine (``client.memory_engine``, the library the chat
client calls) exchange by exchange, into the user's own encrypted store: the partner's
message as the assistant's turn, the user's reply as the user's, and the session ended
after every exchange so that the engine has written the long-term items of everything
said so far. Before exchange ``p`` is added, the engine retrieves for the partner's
message (the context) and the first ``MEMORY_SLOTS`` memories it keeps are that example's
memory: the user's own earlier replies and the facts extracted from them, never the
reply being ranked or anything said after it. The memories join the head's persona slots
(the head is used unchanged; it attends over and takes the max/mean cosine of whatever
facts it is given).

Rows (head rows: mean over seeds, trained like ``head_central``):
``head_central`` (the persona card, as in the reranking benchmark), ``head_central +
memory at test`` (the same heads, memories added to the card only when scoring),
``head_memory`` (card + memories in training and test), ``head_memory_only`` (memories
and no card: what a device that was never given a persona card has), and
``head_learned_persona`` (no card: the persona the engine learned from the earlier
replies, plus the memories).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.reporting import run_and_report
from bench.rerank_data import QUICK_USERS, BenchData, load_bench_data
from bench.rerank_personachat import SPLITS, Row, central_heads, mean_rows
from client.embedding.factory import default_embedder
from client.embedding.protocol import Embedder
from client.memory_engine import EngineConfig, MemoryEngine
from client.profile import Profile, ProfileSettings
from models.encoded import EncodedExamples, encode
from models.ranking_task import GOLD, RankingExample
from models.reranking_head import HeadConfig
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams

DEFAULT_OUT = Path("bench/results/reply_memory.json")
MEMORY_SLOTS = 5  # as many memories as a persona card has facts (about five)
PERSONA_SLOTS = 5  # learned persona attributes, most related to the message first
Key = tuple[str, int]  # (user id, exchange position)


def device_views(
    examples: Sequence[RankingExample], embedder: Embedder, folder: Path, say: Callable[[str], None]
) -> tuple[dict[Key, tuple[str, ...]], dict[Key, tuple[str, ...]]]:
    """Per exchange, the memories the engine retrieves and the persona it has learned.

    Each user's exchanges (rebuilt from the examples: context and gold reply) are fed to
    a fresh engine in order; what an exchange sees comes from the exchanges before it.
    """
    by_user: dict[str, dict[int, RankingExample]] = defaultdict(dict)
    for example in examples:
        by_user[example.user_id][example.position] = example
    memories: dict[Key, tuple[str, ...]] = {}
    learned: dict[Key, tuple[str, ...]] = {}
    started = time.perf_counter()
    for done, (user_id, exchanges) in enumerate(sorted(by_user.items()), start=1):
        profile = Profile.create(
            folder / f"{user_id}.fpstore",
            "benchmark passphrase",
            kdf=KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS),
            settings=ProfileSettings(turn_capacity=100),
        )
        engine = MemoryEngine(profile, embedder, config=EngineConfig(top_k=MEMORY_SLOTS))
        for position in sorted(exchanges):
            example = exchanges[position]
            key = (user_id, position)
            memories[key] = _retrieved(engine, example.context)
            learned[key] = tuple(engine.persona_lines(example.context)[:PERSONA_SLOTS])
            _add_exchange(engine, example, position)
        profile.close()
        if done % 100 == 0:
            say(f"{done} users through the engine ({time.perf_counter() - started:.0f} s)")
    return memories, learned


def _retrieved(engine: MemoryEngine, message: str) -> tuple[str, ...]:
    if len(engine.index) == 0:
        return ()
    return tuple(m.text for m in engine.retrieve(message).memories[:MEMORY_SLOTS])


def _add_exchange(engine: MemoryEngine, example: RankingExample, position: int) -> None:
    session = f"exchange-{position}"
    at = 86_400.0 * (position + 1)  # one day apart: a fixed clock, the same on every run
    engine.add_turn(session, example.context, role="assistant", speaker="partner", at=at)
    engine.add_turn(session, example.candidates[GOLD], at=at + 60.0)
    engine.end_session(session)


def with_facts(
    examples: Sequence[RankingExample],
    extra: dict[Key, tuple[str, ...]],
    *,
    card: bool = True,
    more: dict[Key, tuple[str, ...]] | None = None,
) -> list[RankingExample]:
    """The examples with ``extra`` (and ``more``) facts after (or instead of) the card."""
    out = []
    for e in examples:
        key = (e.user_id, e.position)
        facts = (*(e.persona if card else ()), *(more or {}).get(key, ()), *extra[key])
        out.append(replace(e, persona=facts))
    return out


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    seeds = [args.seed] if args.quick else [args.seed + i for i in range(3)]
    data = load_bench_data(
        args.data_dir,
        users=args.users or (QUICK_USERS if args.quick else None),
        seed=args.seed,
        with_spc=False,
        say=say,
    )
    everything = data.train_examples + data.later_examples + data.unseen_examples
    say("feeding every dialogue through the memory engine ...")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        memories, learned = device_views(everything, default_embedder(), Path(folder), say)
    engine_seconds = time.perf_counter() - started
    rows = head_rows(data, memories, learned, seeds, say)
    return {
        "rows": [r.to_json() for r in rows],
        "config": {
            **data.describe(),
            "seeds": seeds,
            "memory_slots": MEMORY_SLOTS,
            "learned_persona_slots": PERSONA_SLOTS,
            "engine_seconds": round(engine_seconds, 1),
            "memories_per_example": _mean_count(memories, data.later_examples),
            "learned_facts_per_example": _mean_count(learned, data.later_examples),
            "with_memory_per_split": {
                split: _share_with(memories, examples) for split, examples in _splits(data).items()
            },
            "head": HeadConfig().to_json(),
            "metric": "hits@1/20 (reconstructed candidates)",
        },
    }


def head_rows(
    data: BenchData,
    memories: dict[Key, tuple[str, ...]],
    learned: dict[Key, tuple[str, ...]],
    seeds: Sequence[int],
    say: Callable[[str], None],
) -> list[Row]:
    """Every head row: each variant's facts in training and test, mean over ``seeds``."""
    variants: dict[str, dict[str, Any]] = {
        "head_central": {},
        "head_memory": {"extra": memories},
        "head_memory_only": {"extra": memories, "card": False},
        "head_learned_persona": {"extra": memories, "card": False, "more": learned},
    }
    rows = []
    for method, options in variants.items():
        say(f"training {method} ...")
        train, tests = _encoded(data, options)
        if method == "head_central":  # the same heads, also scored with memories added
            tests |= {f"{s}+memory": e for s, e in _encoded(data, {"extra": memories})[1].items()}
        results, _ = central_heads(train, tests, seeds, HeadConfig())
        rows += mean_rows(method, [{s: r[s] for s in SPLITS} for r in results])
        if method == "head_central":
            at_test = [{s: r[f"{s}+memory"] for s in SPLITS} for r in results]
            rows += mean_rows("head_central + memory at test", at_test)
    return rows


def _splits(data: BenchData) -> dict[str, list[RankingExample]]:
    return {"unseen_users": data.unseen_examples, "later_turns": data.later_examples}


def _encoded(
    data: BenchData, options: dict[str, Any]
) -> tuple[EncodedExamples, dict[str, EncodedExamples]]:
    def view(examples: list[RankingExample]) -> list[RankingExample]:
        return with_facts(examples, **options) if options else examples

    train = encode(view(data.train_examples), data.embed, dimension=384)
    tests = {s: encode(view(e), data.embed, dimension=384) for s, e in _splits(data).items()}
    return train, tests


def _mean_count(facts: dict[Key, tuple[str, ...]], examples: list[RankingExample]) -> float:
    return round(sum(len(facts[(e.user_id, e.position)]) for e in examples) / len(examples), 2)


def _share_with(facts: dict[Key, tuple[str, ...]], examples: list[RankingExample]) -> float:
    return round(sum(bool(facts[(e.user_id, e.position)]) for e in examples) / len(examples), 3)


def print_table(result: dict[str, Any]) -> None:
    by_method: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    for row in result["rows"]:
        by_method[row["method"]][row["split"]] = row
    print(f"{'method':<32} {'unseen hits@1':>13} {'MRR':>6} {'later hits@1':>13} {'MRR':>6}")
    for method, splits in by_method.items():
        cells = [f"{splits[s]['hits@1']:13.1f} {splits[s]['mrr']:6.3f}" for s in SPLITS]
        print(f"{method:<32} {' '.join(cells)}")
    config = result["config"]
    print(
        f"{config['users']} users; memories per later-turn example "
        f"{config['memories_per_example']}; seeds {config['seeds']}; through the engine in "
        f"{config['engine_seconds']} s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="250 users, one seed")
    parser.add_argument("--users", type=int, default=None, help="use the first N users only")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    return run_and_report(lambda say: run(args, say=say), print_table, args.out)


if __name__ == "__main__":
    sys.exit(main())
