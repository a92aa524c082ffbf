"""Evolving preferences: does the device's memory follow a person whose tastes change?

Run from the repository root::

    .venv/bin/python -m bench.evolving_preferences --out bench/results/evolving_preferences.json
    .venv/bin/python -m bench.evolving_preferences --quick   # 12 users (default 30)

Each synthetic user (``simulation.population``, read only) talks to their own device, session
by session, through ``MemoryEngine``. For every scheduled change that replaces a value
(``old`` -> ``new``), a 4-way multiple-choice probe asks "what is the user's current
<attribute>?" with the new value, the old value and two other values of the attribute
(drawn with a fixed seed; attributes with fewer than four values are skipped): once just
before the session that discloses the change (gold: the old value) and once after the
last session (gold: the new value); a third probe asks for the previous value (gold: the
old value, which the device's memories keep).

No language model answers. The persona answers first: its attribute whose name is
closest to the probe's ("my favourite kind of holiday" for "my holiday type", cosine at
least ``NAME_FLOOR``) gives the current value when its value names one option clearly
(MiniLM cosine at least ``VOTE_FLOOR`` and ``VOTE_MARGIN`` above the runner-up), and its
history the previous value. Otherwise the device retrieves its memories for the attribute
("my <attribute>"), the validator removes superseded ones, and each kept memory votes for
the option its own text names clearly; the current value is the option voted for by the
most recently said memory (a fact before the turn it came from). The previous value is
what the latest change statement among those memories replaced ("I've gone off X"), else
the latest other option voted for. Without any vote the device answers with the option
closest to any memory. Rows are given for all changes and for those whose old value was
said before the change (otherwise the "before" probe has nothing to go on); each change's
record says whether the persona, the memories or both gave the answer.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.reporting import run_and_report, table
from client.embedding import default_embedder, encoder_dir
from client.embedding.protocol import Embedder
from client.memory_engine import EngineConfig, MemoryEngine
from client.memory_engine.persona_learning import FACT
from client.memory_engine.retrieval import Candidate
from client.profile import Profile, ProfileSettings
from privacy.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB, KdfParams
from protocol.persona_schema import STATEMENTS
from simulation.population.entities import Change, ChangeKind, SyntheticUser
from simulation.population.generator import generate_population
from simulation.population.taxonomy import Taxonomy, load_taxonomy

DEFAULT_OUT = Path("bench/results/evolving_preferences.json")
# A memory votes when it names one option clearly: cosine at least VOTE_FLOOR and at
# least VOTE_MARGIN above the runner-up (set from a handful of user 0's memories, where
# small talk sits near 0.3 for every option).
VOTE_FLOOR = 0.45
VOTE_MARGIN = 0.1
# A persona attribute answers a probe when its name is this close to the probe's ("my
# favourite kind of holiday" for "my holiday type"); set before any run, not tuned.
NAME_FLOOR = 0.6
DAY = 86400.0
PROBES = ("before_disclosure", "after_disclosure", "previous_value")


@dataclass(frozen=True)
class Probe:
    change: Change
    options: tuple[str, ...]  # new, old, two distractors, shuffled


def options_for(change: Change, taxonomy: Taxonomy, rng: np.random.Generator) -> tuple[str, ...]:
    values = [spec.value for spec in taxonomy.leaf(change.category, change.name).values]
    others = [v for v in values if v not in (change.old, change.new)]
    picked = [str(v) for v in rng.choice(others, size=2, replace=False)]
    options = [str(change.new), str(change.old), *picked]
    return tuple(options[i] for i in rng.permutation(4))


def answer(engine: MemoryEngine, probe: Probe) -> tuple[str, str, str]:
    """(current value, previous value, source): the persona answers what it knows (its
    attribute's value, and its history for the previous value), the memories the rest."""
    vectors = engine.embedder.embed(list(probe.options))
    known = persona_answer(engine, probe, vectors)
    if known is not None and known[1] is not None:
        return known[0], known[1], "persona"
    current, previous = memory_answer(engine, probe, vectors, known[0] if known else None)
    return current, previous, "persona+memories" if known else "memories"


def persona_answer(
    engine: MemoryEngine, probe: Probe, vectors: np.ndarray
) -> tuple[str, str | None] | None:
    """The persona's attribute whose name is closest to the probe's (cosine at least
    ``NAME_FLOOR``) and whose value names one option clearly: (current, previous, None
    when its history names no other option); None if there is no such attribute."""
    attributes = [a for a in engine.profile.persona.attributes() if a.category != STATEMENTS]
    if not attributes:
        return None
    wanted = engine.embedder.embed([f"my {probe.change.name.replace('_', ' ')}"])[0]
    names = engine.embedder.embed([f"my {a.name}" for a in attributes]) @ wanted
    for position in np.argsort(-names, kind="stable"):
        if names[position] < NAME_FLOOR:
            return None
        attribute = attributes[int(position)]
        values = [str(attribute.value), *(str(p.value) for p in reversed(attribute.history))]
        named = [_clear_option(vectors, v) for v in engine.embedder.embed(values)]
        if named[0] is None:
            continue
        previous = next((n for n in named[1:] if n is not None and n != named[0]), None)
        return probe.options[named[0]], None if previous is None else probe.options[previous]
    return None


def _clear_option(options: np.ndarray, vector: np.ndarray) -> int | None:
    """The option ``vector`` names clearly (VOTE_FLOOR, VOTE_MARGIN), else None."""
    sims = options @ vector
    ordered = np.sort(sims)
    if ordered[-1] >= VOTE_FLOOR and ordered[-1] - ordered[-2] >= VOTE_MARGIN:
        return int(sims.argmax())
    return None


def memory_answer(
    engine: MemoryEngine, probe: Probe, vectors: np.ndarray, current: str | None = None
) -> tuple[str, str]:
    """The most recent memory that names one option clearly decides (a fact before the
    turn it came from: the fact is the part of the turn that says it); the previous
    value is the latest other option voted for before it. ``current``: already known."""
    name = probe.change.name.replace("_", " ")
    kept = engine.retrieve(f"my {name}").memories
    votes: list[tuple[float, int, int]] = []
    best_overall = np.full(len(probe.options), -1.0)
    # What each memory says on its own (a turn's index vector also carries its neighbours).
    said = engine.embedder.embed([m.text for m in kept]) if kept else np.zeros((0, 1))
    for memory, vector in zip(kept, said, strict=True):
        sims = vectors @ vector
        best_overall = np.maximum(best_overall, sims)
        option = _clear_option(vectors, vector)
        if option is not None:
            entry = engine.index.entry(memory.id)
            votes.append((entry.at, int(entry.kind == FACT), option))
    if not votes:
        choice = probe.options[int(best_overall.argmax())]
        return current or choice, choice
    votes.sort()
    now = probe.options.index(current) if current else votes[-1][2]
    replaced = [o for o in _replaced_options(engine, kept, vectors) if o != now]
    earlier = replaced or [option for _, _, option in votes if option != now]
    previous = earlier[-1] if earlier else now
    return probe.options[now], probe.options[previous]


def _replaced_options(
    engine: MemoryEngine, kept: Sequence[Candidate], vectors: np.ndarray
) -> list[int]:
    """The options named by what change statements among ``kept`` replaced, oldest first."""
    said = []
    for memory in kept:
        item = engine.profile.memory.get(memory.id)
        if item is not None and item.meta.get("replaces"):
            said.append((engine.index.entry(memory.id).at, item.meta["replaces"]))
    said.sort()
    if not said:
        return []
    named = [_clear_option(vectors, v) for v in engine.embedder.embed([t for _, t in said])]
    return [n for n in named if n is not None]


def _values(taxonomy: Taxonomy, change: Change) -> int:
    """How many values the attribute has (a 4-way probe needs four)."""
    return len(taxonomy.leaf(change.category, change.name).values)


def _said_before(user: SyntheticUser, change: Change) -> bool:
    """Whether the old value was disclosed (explicitly or not) before the change's session."""
    return any(
        turn.label is not None and turn.label.key == change.key and turn.label.value == change.old
        for session in user.sessions[: change.session]
        for turn in session.turns
    )


def run_user(
    user: SyntheticUser, embedder: Embedder, taxonomy: Taxonomy, folder: Path, seed: int
) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    probes = [
        Probe(c, options_for(c, taxonomy, rng))
        for c in user.schedule
        if c.kind is ChangeKind.REPLACE and c.old and c.new and _values(taxonomy, c) >= 4
    ]
    if not probes:
        return []
    profile = Profile.create(
        folder / f"{user.user_id}.fpstore",
        "benchmark passphrase",
        kdf=KdfParams(memory_kib=MIN_MEMORY_KIB, iterations=MIN_ITERATIONS),
        settings=ProfileSettings(turn_capacity=200),
    )
    engine = MemoryEngine(profile, embedder, config=EngineConfig(top_k=20))
    results: dict[int, dict[str, Any]] = {
        id(p): {"attribute": p.change.name, "old_said_before": _said_before(user, p.change)}
        for p in probes
    }
    for session in user.sessions:
        for probe in probes:
            if probe.change.session == session.index:
                current, _, _ = answer(engine, probe)
                results[id(probe)]["before_disclosure"] = current == probe.change.old
        for turn in session.turns:
            engine.add_turn(f"s{session.index}", turn.text, at=session.index * DAY + turn.index)
        engine.end_session(f"s{session.index}")
    for probe in probes:
        current, previous, source = answer(engine, probe)
        results[id(probe)]["answered_from"] = source
        results[id(probe)]["after_disclosure"] = current == probe.change.new
        results[id(probe)]["previous_value"] = previous == probe.change.old
    profile.close()
    return list(results.values())


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    users = generate_population(args.users, seed=args.seed)
    taxonomy = load_taxonomy()
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as folder:
        for number, user in enumerate(users):
            records.extend(run_user(user, embedder, taxonomy, Path(folder), args.seed + number))
            if number % 10 == 9:
                log(f"{number + 1} users, {len(records)} changes")
    rows = [_row(name, records, subset) for name in PROBES for subset in (False, True)]
    return {
        "benchmark": "evolving_preferences",
        "config": {
            "quick": args.quick,
            "users": args.users,
            "seed": args.seed,
            "vote_floor": VOTE_FLOOR,
            "vote_margin": VOTE_MARGIN,
            "name_floor": NAME_FLOOR,
            "chance": 25.0,
        },
        "rows": rows,
        "per_change": records,
    }


def _row(name: str, records: list[dict[str, Any]], said_only: bool) -> dict[str, Any]:
    chosen = [r for r in records if name in r and (r["old_said_before"] or not said_only)]
    return {
        "probe": name,
        "changes": "old value said before the change" if said_only else "all",
        "accuracy": round(100 * statistics.fmean(float(r[name]) for r in chosen), 1)
        if chosen
        else None,
        "n": len(chosen),
    }


def show(result: dict[str, Any]) -> None:
    lines = [
        [
            r["probe"],
            r["changes"],
            "-" if r["accuracy"] is None else f"{r['accuracy']:.1f}",
            str(r["n"]),
        ]
        for r in result["rows"]
    ]
    print("\n".join(table(["probe", "changes", "accuracy %", "n"], lines)))
    print("chance: 25.0; target: 80; PersonaMem (2025): frontier LLMs around 50")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.users = 12
    return run_and_report(lambda log: produce(args, log), show, args.out)


if __name__ == "__main__":
    sys.exit(main())
