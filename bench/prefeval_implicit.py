"""PrefEval multiple choice when the preference is implicit: stored by the device, then used.

Run from the repository root::

    .venv/bin/python -m bench.prefeval_implicit --out bench/results/prefeval_implicit.json
    .venv/bin/python -m bench.prefeval_implicit --quick   # the first 10 records of each topic

For each of PrefEval's implicit forms (bench.prefeval_implicit_data: ``persona-driven``,
the preference said in passing in a multi-turn chat; ``choice-based``, revealed only by a
pick among offered options), every record's conversation is played into a fresh device
through ``MemoryEngine`` (one session; persona learning, stance parsing and the choice
memory, client.memory_engine.choices, store what they can). The topic's multiple-choice
question (the explicit row's ``mcq_options`` and shuffling, bench.generalisation) is then
answered from the stored persona only, with no language model. Rows (hits@1 in %, random
25%, mean over 3 seeds of the option order):

- ``cosine``: cos(question, option), no persona;
- ``stance_stored``: models.stance_scorer with its hand-set weights on every stored fact
  and its stance;
- ``stance_stored_related``: the same on the ``RELATED`` stored facts closest to the
  question (the device's own ``ranked_persona`` order), so that likes said about other
  things in the chat do not vote;
- ``stance_stored_related_loto``: as the previous with the seven weights fitted on the
  other seven topics (leave one topic out);
- ``stance_explicit`` (reference, reads the ``preference`` field): the same scorer on the
  stated preference, the explicit row's input.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.prefeval_implicit_data import FORMS, ImplicitItem, Stored, load_implicit, stored_persona
from bench.reporting import run_and_report, table
from client.embedding import default_embedder, encoder_dir
from client.embedding.protocol import Embedder
from models.data.locations import data_dir
from models.ranking_metrics import hits_at_1
from models.stance_scorer import (
    StanceRow,
    leave_one_topic_out,
    stance_features,
    stance_scores,
)

DEFAULT_OUT = Path("bench/results/prefeval_implicit.json")
QUICK_PER_TOPIC = 10
# Stored facts given to the scorer in ``*_related`` rows: a preference is one or two
# sentences of the chat; set before any run, not tuned.
RELATED = 3
METHODS = (
    "cosine",
    "stance_stored",
    "stance_stored_related",
    "stance_stored_related_loto",
    "stance_explicit",
)
Array = npt.NDArray[np.float32]


def related(stored: Stored, question: str, embedder: Embedder, k: int = RELATED) -> Stored:
    """The ``k`` stored facts closest to ``question`` (cosine, as ``ranked_persona``)."""
    if len(stored.facts) <= k:
        return stored
    vectors = embedder.embed([question, *stored.facts])
    order = np.argsort(-(vectors[1:] @ vectors[0]), kind="stable")[:k]
    return Stored(tuple(stored.facts[i] for i in order), tuple(stored.stances[i] for i in order))


def form_scores(
    items: Sequence[ImplicitItem], stored: Sequence[Stored], embedder: Embedder
) -> dict[str, Array]:
    """(N, 4) scores of every method on one form's items."""
    embed = embedder.embed
    near = [related(s, i.mcq.question, embedder) for i, s in zip(items, stored, strict=True)]

    def rows(persona: Sequence[Stored]) -> list[StanceRow]:
        return [
            StanceRow(i.mcq.question, s.facts, i.mcq.options, s.stances)
            for i, s in zip(items, persona, strict=True)
        ]

    explicit = [StanceRow(i.mcq.question, (i.mcq.preference,), i.mcq.options) for i in items]
    near_features = stance_features(rows(near), embed)
    topics = np.asarray([i.mcq.topic for i in items])
    labels = np.asarray([i.mcq.gold for i in items], np.int64)
    return {
        "cosine": near_features[..., 0],
        "stance_stored": stance_scores(stance_features(rows(stored), embed)),
        "stance_stored_related": stance_scores(near_features),
        "stance_stored_related_loto": leave_one_topic_out(near_features, labels, topics),
        "stance_explicit": stance_scores(stance_features(explicit, embed)),
    }


def store_all(
    items: Sequence[ImplicitItem], embedder: Embedder, say: Callable[[str], None]
) -> list[Stored]:
    """Each item's conversation through its own fresh device (the same for every seed)."""
    stored = []
    with tempfile.TemporaryDirectory() as folder:
        for number, item in enumerate(items):
            place = Path(folder) / str(number)
            place.mkdir()
            stored.append(stored_persona(item.turns, embedder, place))
            if number % 100 == 99:
                say(f"{number + 1} devices")
    return stored


def run(args: argparse.Namespace, say: Callable[[str], None]) -> dict[str, Any]:
    root = data_dir(args.data_dir) / "prefeval"
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    seeds = [args.seed + i for i in range(3)]
    per_topic_limit = QUICK_PER_TOPIC if args.quick else None
    rows: list[dict[str, Any]] = []
    for form in FORMS:
        say(f"{form}: storing each conversation on a fresh device ...")
        first = _limited(load_implicit(root, form, seed=seeds[0]), per_topic_limit)
        stored = store_all(first, embedder, say)
        hits: dict[str, list[dict[str, float]]] = {m: [] for m in METHODS}
        for seed in seeds:
            items = _limited(load_implicit(root, form, seed=seed), per_topic_limit)
            for method, scores in form_scores(items, stored, embedder).items():
                hits[method].append(_by_topic(scores, items))
        rows.extend(_row(form, method, per_seed, len(first)) for method, per_seed in hits.items())
        rows.append(_stored_summary(form, first, stored))
    return {
        "benchmark": "prefeval_implicit",
        "rows": rows,
        "config": {"seeds": seeds, "quick": bool(args.quick), "related": RELATED},
    }


def _limited(items: list[ImplicitItem], per_topic: int | None) -> list[ImplicitItem]:
    if per_topic is None:
        return items
    seen: dict[str, int] = {}
    kept = []
    for item in items:
        seen[item.mcq.topic] = seen.get(item.mcq.topic, 0) + 1
        if seen[item.mcq.topic] <= per_topic:
            kept.append(item)
    return kept


def _by_topic(scores: Array, items: Sequence[ImplicitItem]) -> dict[str, float]:
    labels = np.asarray([i.mcq.gold for i in items], np.int64)
    topics = np.asarray([i.mcq.topic for i in items])
    found = {t: hits_at_1(scores[topics == t], labels[topics == t]) for t in sorted(set(topics))}
    return {"all": hits_at_1(scores, labels), **found}


def _row(form: str, method: str, per_seed: list[dict[str, float]], n: int) -> dict[str, Any]:
    topics = [t for t in per_seed[0] if t != "all"]
    return {
        "form": form,
        "method": method,
        "hits@1": round(100 * statistics.mean(s["all"] for s in per_seed), 2),
        "hits@1_per_seed": [round(100 * s["all"], 2) for s in per_seed],
        "per_topic": {t: round(100 * statistics.mean(s[t] for s in per_seed), 2) for t in topics},
        "n": n,
    }


def _stored_summary(
    form: str, items: Sequence[ImplicitItem], stored: Sequence[Stored]
) -> dict[str, Any]:
    """How much the devices stored: facts per device, and how many carry a stance."""
    with_stance = [sum(1 for s in d.stances if s) for d in stored]
    return {
        "form": form,
        "method": "stored",
        "facts_per_device": round(statistics.mean(len(d.facts) for d in stored), 2),
        "stance_facts_per_device": round(statistics.mean(with_stance), 2),
        "devices_with_a_stance": sum(1 for w in with_stance if w),
        "n": len(items),
    }


def print_table(result: dict[str, Any]) -> None:
    lines = []
    for row in result["rows"]:
        if row["method"] == "stored":
            continue
        worst = min(row["per_topic"].items(), key=lambda kv: kv[1])
        lines.append(
            [row["form"], row["method"], f"{row['hits@1']:.1f}", f"{worst[1]:.1f} ({worst[0]})"]
        )
    print("\n".join(table(["form", "method", "hits@1", "worst topic"], lines)))
    print(f"seeds {result['config']['seeds']}; 4 options, random 25%")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--quick", action="store_true", help="first 10 records of each topic")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    np.seterr(all="ignore")
    return run_and_report(lambda say: run(args, say=say), print_table, args.out)


if __name__ == "__main__":
    sys.exit(main())
