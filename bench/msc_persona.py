"""Persona extraction on Multi-Session Chat: the engine's extractor against gold persona facts.

Run from the repository root::

    .venv/bin/python -m bench.msc_persona --out bench/results/msc_persona.json
    .venv/bin/python -m bench.msc_persona --quick   # session 1, 60 episodes

Data: ``msc/msc_personasummary/session_{1..4}/valid.txt.xz`` (crowd-annotated: each
utterance that reveals a persona fact carries it in ``persona_text``). For each speaker of
each episode and session, the extracted facts are the sentences the engine's extractor
(``client.memory_engine.disclosure.RuleExtractor``, the one ``MemoryEngine`` uses)
keeps from that speaker's utterances; the gold facts are the sentences of the
``persona_text`` annotations. A fact matches when the MiniLM cosine of the two sentences
is at or above the threshold (0.7 stated; 0.6 and 0.8 reported too). Precision: matched
extracted facts / extracted facts; recall: matched gold facts / gold facts; both
micro-averaged over speakers. Baseline: every first-person sentence is a fact.

With ``--llm-url URL`` (an OpenAI-compatible server: llama.cpp's, Ollama, vLLM) a third
row reads each utterance with the engine's language-model extractor
(``client.memory_engine.llm_extraction.LlmExtractor``, the rules behind it, exactly as
``fedpersona chat --backend`` builds it) and says how many utterances the model's answer
was used for and why the others fell back. ``--episodes N`` caps the episodes per
session (a small model on a CPU reads about one utterance a second).
"""

from __future__ import annotations

import argparse
import json
import lzma
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from bench.reporting import (
    FallbackTally,
    add_llm_server_arguments,
    data_benchmark_main,
    llm_server_config,
    table,
)
from client.embedding import default_embedder, encoder_dir
from client.embedding.protocol import Embedder
from client.llm.server_config import ServerConfig
from client.memory_engine.disclosure import (
    DisclosureExtractor,
    RuleExtractor,
    is_first_person,
    split_sentences,
)
from client.memory_engine.llm_parts import llm_memory_parts
from models.data.locations import data_dir, require

DEFAULT_OUT = Path("bench/results/msc_persona.json")
THRESHOLDS = (0.6, 0.7, 0.8)
STATED = 0.7
QUICK_EPISODES = 60
Facts = list[str]


def msc_episodes(root: Path, sessions: tuple[int, ...], limit: int | None) -> Iterator[Any]:
    """The episodes (JSON) of each session's persona-summary valid file, at most ``limit``
    per session."""
    for session in sessions:
        path = require(root, Path(f"msc/msc_personasummary/session_{session}/valid.txt.xz"))
        with lzma.open(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                if limit is not None and number >= limit:
                    break
                yield json.loads(line)


def load_speakers(
    root: Path, sessions: tuple[int, ...], episodes: int | None
) -> list[tuple[Facts, Facts]]:
    """(utterances, gold fact sentences) for each speaker of each episode and session."""
    return [
        speaker
        for episode in msc_episodes(root, sessions, episodes)
        for speaker in _episode_speakers(episode)
    ]


def _episode_speakers(episode: dict[str, Any]) -> list[tuple[Facts, Facts]]:
    by_speaker: dict[str, tuple[Facts, Facts]] = {}
    for utterance in episode["dialog"]:
        said, gold = by_speaker.setdefault(str(utterance["id"]), ([], []))
        said.append(str(utterance["text"]))
        gold.extend(split_sentences(str(utterance.get("persona_text") or "")))
    return list(by_speaker.values())


def engine_facts(utterances: Facts) -> Facts:
    return extractor_facts(RuleExtractor(), utterances)


def extractor_facts(extractor: DisclosureExtractor, utterances: Facts) -> Facts:
    return [d.sentence for text in utterances for d in extractor.extract(text)]


def first_person_facts(utterances: Facts) -> Facts:
    return [s for text in utterances for s in split_sentences(text) if is_first_person(s)]


METHODS: dict[str, Callable[[Facts], Facts]] = {
    "first_person_baseline": first_person_facts,
    "engine_extractor": engine_facts,
}


def score(
    vectors: dict[str, np.ndarray],
    speakers: list[tuple[Facts, Facts]],
    extracted: list[Facts],
) -> dict[str, Any]:
    """Precision and recall of ``extracted`` (one list per speaker) at each threshold."""
    counts = {
        t: [0, 0, 0, 0] for t in THRESHOLDS
    }  # matched extracted, extracted, matched gold, gold
    for (_, gold), found in zip(speakers, extracted, strict=True):
        if not gold and not found:
            continue
        cosine = _cosines(vectors, found, gold)
        for t in THRESHOLDS:
            close = cosine >= t
            counts[t][0] += int(close.any(axis=1).sum()) if found and gold else 0
            counts[t][1] += len(found)
            counts[t][2] += int(close.any(axis=0).sum()) if found and gold else 0
            counts[t][3] += len(gold)
    return {f"{t:.1f}": _prf(*counts[t]) for t in THRESHOLDS}


def _cosines(vectors: dict[str, np.ndarray], found: Facts, gold: Facts) -> np.ndarray:
    if not found or not gold:
        return np.zeros((len(found), len(gold)), dtype=np.float32)
    left = np.stack([vectors[s] for s in found])
    right = np.stack([vectors[s] for s in gold])
    result: np.ndarray = left @ right.T
    return result


def embed_all(
    embedder: Embedder, speakers: list[tuple[Facts, Facts]], extracted: list[list[Facts]]
) -> dict[str, np.ndarray]:
    """Every sentence any method extracted and every gold fact, embedded once."""
    texts: set[str] = set()
    for _, gold in speakers:
        texts.update(gold)
    for per_speaker in extracted:
        for found in per_speaker:
            texts.update(found)
    ordered = sorted(texts)
    return dict(zip(ordered, embedder.embed(ordered), strict=True))


def _prf(matched_found: int, found: int, matched_gold: int, gold: int) -> dict[str, float]:
    precision = matched_found / found if found else 0.0
    recall = matched_gold / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(100 * precision, 1),
        "recall": round(100 * recall, 1),
        "f1": round(100 * f1, 1),
        "extracted": found,
        "gold": gold,
    }


def produce(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    sessions = (1,) if args.quick else (1, 2, 3, 4)
    episodes = (
        args.episodes if args.episodes is not None else QUICK_EPISODES if args.quick else None
    )
    speakers = load_speakers(data_dir(args.data_dir), sessions, episodes)
    log(f"{len(speakers)} speaker-sessions")
    embedder = default_embedder(encoder_dir(args.cache_dir), export_if_missing=True)
    extracted = {
        method: [extract(utterances) for utterances, _ in speakers]
        for method, extract in METHODS.items()
    }
    model_use: dict[str, Any] = {}
    if args.llm_url:
        server = ServerConfig(base_url=args.llm_url, model=args.llm_model)
        extracted["llm_extractor"], model_use = llm_extracted(server, embedder, speakers, log)
    vectors = embed_all(embedder, speakers, list(extracted.values()))
    log(f"{len(vectors)} distinct sentences embedded")
    rows = [
        {"method": method, "by_threshold": score(vectors, speakers, found)}
        for method, found in extracted.items()
    ]
    if model_use:
        rows[-1]["model_use"] = model_use
    return {
        "benchmark": "msc_persona",
        "config": {
            "quick": args.quick,
            "sessions": list(sessions),
            "episodes_per_session": episodes,
            "speaker_sessions": len(speakers),
            "stated_threshold": STATED,
            "thresholds": list(THRESHOLDS),
            "llm": llm_server_config(args),
        },
        "rows": rows,
    }


def llm_extracted(
    server: ServerConfig,
    embedder: Embedder,
    speakers: list[tuple[Facts, Facts]],
    log: Callable[[str], None],
) -> tuple[list[Facts], dict[str, Any]]:
    """Each speaker's facts read by the engine's LLM extractor, and how often the model's
    answer was used (the rest fell back to the rules, counted by reason)."""
    parts = llm_memory_parts(server, embedder)
    tally = FallbackTally()
    dropped = 0
    started = time.perf_counter()
    extracted: list[Facts] = []
    try:
        for number, (utterances, _) in enumerate(speakers, start=1):
            facts: Facts = []
            for text in utterances:
                facts.extend(d.sentence for d in parts.extractor.extract(text))
                outcome = parts.extractor.last
                assert outcome is not None  # set by every extract()
                tally.add(outcome.source, outcome.reason)
                dropped += len(outcome.dropped)
            extracted.append(facts)
            if number % 20 == 0:
                log(f"llm extractor: {number} of {len(speakers)} speaker-sessions")
    finally:
        parts.close()
    utterances_read = sum(tally.sources.values())
    seconds = time.perf_counter() - started
    return extracted, {
        "utterances": utterances_read,
        "answer_used": tally.sources["llm"],
        "fell_back_to_rules": tally.sources["rules"],
        "fallback_reasons": tally.fallback_reasons(),
        "facts_dropped_by_checks": dropped,
        "seconds_per_utterance": round(seconds / max(1, utterances_read), 3),
    }


def show(result: dict[str, Any]) -> None:
    header = ["method", "threshold", "precision", "recall", "F1", "extracted", "gold"]
    lines = [
        [
            row["method"],
            t,
            f"{v['precision']:.1f}",
            f"{v['recall']:.1f}",
            f"{v['f1']:.1f}",
            str(v["extracted"]),
            str(v["gold"]),
        ]
        for row in result["rows"]
        for t, v in row["by_threshold"].items()
    ]
    print("\n".join(table(header, lines)))
    for row in result["rows"]:
        if "model_use" in row:
            use = row["model_use"]
            print(
                f"{row['method']}: the model's answer used for {use['answer_used']} of "
                f"{use['utterances']} utterances ({use['seconds_per_utterance']} s each); "
                f"fell back: {use['fallback_reasons']}"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--episodes", type=int, default=None, help="episodes per session (default: all; --quick 60)"
    )
    add_llm_server_arguments(parser)


def main(argv: list[str] | None = None) -> int:
    return data_benchmark_main(
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        produce=produce,
        show=show,
        argv=argv,
        extra_arguments=add_arguments,
    )


if __name__ == "__main__":
    sys.exit(main())
