"""Encrypted store against a plaintext SQLite baseline, and unlock time, in one run.

Run from the repository root::

    .venv/bin/python -m bench.store --out bench/results/store.json [--items N] [--quick] [--runs R]

``--items`` defaults to 10000; ``--quick`` uses 1000 (an explicit ``--items`` wins);
``--runs`` (default 5) is the number of interleaved rounds.

What it measures, on long-term memory items (fact text plus a 384-d float32 embedding):

- writes: N ``profile.memory.remember(...)`` calls, each its own committed transaction,
  then N more inside one ``with profile.store.transaction().write():`` (a fresh store);
- reads: ``profile.memory.get(id)`` for every id in a seeded random order, and one full
  ``profile.memory.items()`` scan, on the first round's store reopened once (so the first
  round reads with no data key unwrapped yet, and later rounds with the keys it unwrapped);
- the same operations on a plaintext SQLite file with the store's pragmas and a table
  ``(id TEXT PRIMARY KEY, body BLOB)`` whose body is the JSON payload the store would seal,
  so the only difference is the sealing (per-record keys, AES-GCM, table digest);
- unlock: the median of 5 ``Profile.open(path, passphrase)`` + ``close()`` with the
  default KDF parameters.

Each round runs every operation on both stores, the order alternating between rounds, so
both see the same background load; a row is the median over the rounds, and its ratio the
median of the rounds' own sealed / plaintext ratios (never a ratio across rounds). The
first round's read ratios (cold key cache) are reported beside them. The targets (issue):
sealed reads within 2x of plaintext, unlock under 1 s. The table goes to stdout, progress
to stderr, and the full report to the JSON file at ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bench.reporting import positive_int, table, write_report
from client.memory import MemoryItem
from client.profile import Profile
from client.records import from_payload, to_payload

DEFAULT_OUT = Path("bench/results/store.json")
DEFAULT_ITEMS = 10_000
QUICK_ITEMS = 1_000
EMBEDDING_DIM = 384
SEED = 1234
DEFAULT_RUNS = 5
UNLOCK_RUNS = 5
READS_TARGET_RATIO = 2.0
UNLOCK_TARGET_S = 1.0
PASSPHRASE = "bench passphrase, not a secret"
# The pragmas client/store/database.py sets (busy_timeout aside), so the files match.
PLAINTEXT_PRAGMAS = (
    "journal_mode = WAL",
    "synchronous = FULL",
    "secure_delete = ON",
    "temp_store = MEMORY",
)
WRITE_EACH, WRITE_BATCH = "write, one commit each", "write, one transaction"
POINT_READ, FULL_SCAN = "point read, random order", "full scan"
OPERATIONS = (WRITE_EACH, WRITE_BATCH, POINT_READ, FULL_SCAN)
READ_OPERATIONS = (POINT_READ, FULL_SCAN)

_SUBJECTS = ("I", "My sister", "My manager", "Our neighbour", "My partner", "The kids", "Grandma")
_VERBS = ("booked", "mentioned", "recommended", "asked about", "cancelled", "loved", "ordered")
_OBJECTS = (
    "green tea",
    "a table for four",
    "the trip to Lisbon",
    "a vegetarian menu",
    "the piano lessons",
    "a new laptop",
    "tickets for the jazz festival",
    "the dentist appointment",
    "a yoga class",
    "the blue running shoes",
)
_PLACES = ("at the office", "in Porto", "at home", "near the station", "online", "in the park")
_TIMES = ("last Tuesday", "every morning", "on weekends", "in March", "yesterday", "twice a month")
_REASONS = (
    "it saves time",
    "the price went up",
    "it is close to work",
    "the reviews were good",
    "a friend suggested it",
)


class Backend(Protocol):
    """The memory operations both stores offer."""

    def remember(self, item: MemoryItem) -> None: ...
    def remember_all(self, items: Sequence[MemoryItem]) -> None: ...
    def get(self, item_id: str) -> MemoryItem | None: ...
    def items(self) -> list[MemoryItem]: ...
    def close(self) -> None: ...


class SealedBackend:
    """The real API: a profile's long-term memory in the encrypted store."""

    def __init__(self, profile: Profile) -> None:
        self._profile = profile

    def remember(self, item: MemoryItem) -> None:
        self._profile.memory.remember(item)

    def remember_all(self, items: Sequence[MemoryItem]) -> None:
        with self._profile.store.transaction().write():
            for item in items:
                self._profile.memory.remember(item)

    def get(self, item_id: str) -> MemoryItem | None:
        return self._profile.memory.get(item_id)

    def items(self) -> list[MemoryItem]:
        return self._profile.memory.items()

    def close(self) -> None:
        self._profile.close()


class PlaintextBackend:
    """The baseline: the same JSON payloads in a plain SQLite table, nothing sealed."""

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        for pragma in PLAINTEXT_PRAGMAS:
            self._conn.execute(f"PRAGMA {pragma}")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS memories (id TEXT PRIMARY KEY, body BLOB NOT NULL)"
        )

    @contextmanager
    def _write(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")  # as the store's Database.write()
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _insert(self, item: MemoryItem) -> None:
        if item.embedding is not None and not np.all(np.isfinite(item.embedding)):
            raise ValueError("embedding contains NaN or infinity")  # as Memory.remember
        self._conn.execute(
            "INSERT INTO memories (id, body) VALUES (?, ?) "
            "ON CONFLICT(id) DO UPDATE SET body = excluded.body",
            (item.id, to_payload(item.to_json())),
        )

    def remember(self, item: MemoryItem) -> None:
        with self._write():
            self._insert(item)

    def remember_all(self, items: Sequence[MemoryItem]) -> None:
        with self._write():
            for item in items:
                self._insert(item)

    def get(self, item_id: str) -> MemoryItem | None:
        row = self._conn.execute("SELECT body FROM memories WHERE id = ?", (item_id,)).fetchone()
        return None if row is None else MemoryItem.from_json(from_payload(bytes(row[0])))

    def items(self) -> list[MemoryItem]:
        rows = self._conn.execute("SELECT body FROM memories ORDER BY rowid").fetchall()
        return [MemoryItem.from_json(from_payload(bytes(row[0]))) for row in rows]

    def close(self) -> None:
        self._conn.close()


def sentence(rng: random.Random) -> str:
    text = (
        f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
        f"{rng.choice(_PLACES)} {rng.choice(_TIMES)}."
    )
    return f"{text} It matters because {rng.choice(_REASONS)}." if rng.random() < 0.5 else text


def make_items(count: int, seed: int = SEED) -> list[MemoryItem]:
    """``count`` items with seeded ids, texts, timestamps and unit-norm embeddings."""
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed).standard_normal((count, EMBEDDING_DIM), np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    start = 1_700_000_000.0
    return [
        MemoryItem(
            id=f"{rng.getrandbits(128):032x}",
            text=sentence(rng),
            kind="fact",
            embedding=vectors[index].copy(),
            created_at=start + index,
            updated_at=start + index,
        )
        for index in range(count)
    ]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def read_all(backend: Backend, ids: Sequence[str]) -> None:
    missing = sum(backend.get(item_id) is None for item_id in ids)
    if missing:
        raise RuntimeError(f"{missing} of {len(ids)} point reads found nothing")


def scan_all(backend: Backend, expected: int) -> None:
    found = len(backend.items())
    if found != expected:
        raise RuntimeError(f"full scan returned {found} items, expected {expected}")


def write_each(backend: Backend, items: Sequence[MemoryItem]) -> None:
    for item in items:
        backend.remember(item)


def timed_write(
    create: Callable[[Path], Backend], path: Path, action: Callable[[Backend], None]
) -> float:
    """Seconds ``action`` takes on a new store at ``path``; creating it is not timed."""
    backend = create(path)
    try:
        return timed(lambda: action(backend))
    finally:
        backend.close()


@dataclass(frozen=True)
class Kind:
    """One kind of store: how to create a new one and how to reopen one."""

    name: str
    create: Callable[[Path], Backend]
    reopen: Callable[[Path], Backend]


def write_round(
    kind: Kind, workdir: Path, run_number: int, items: Sequence[MemoryItem]
) -> dict[str, float]:
    """Seconds of both write operations on fresh stores of ``kind`` (run ``run_number``)."""
    each = workdir / f"{kind.name}-each-{run_number}.db"
    batch = workdir / f"{kind.name}-batch-{run_number}.db"
    return {
        WRITE_EACH: timed_write(kind.create, each, lambda b: write_each(b, items)),
        WRITE_BATCH: timed_write(kind.create, batch, lambda b: b.remember_all(items)),
    }


def read_round(backend: Backend, order: Sequence[str]) -> dict[str, float]:
    return {
        POINT_READ: timed(lambda: read_all(backend, order)),
        FULL_SCAN: timed(lambda: scan_all(backend, len(order))),
    }


def interleaved(
    kinds: tuple[Kind, Kind], workdir: Path, items: Sequence[MemoryItem], runs: int
) -> list[dict[str, dict[str, float]]]:
    """``runs`` rounds; in each, every operation on both kinds, which one first alternating.

    Interleaving puts both kinds of store under the same background load (the machine is
    shared), so the ratio of one round compares like with like. Reads run on the stores
    the first round's one-commit-each writes made, reopened once (so the sealed store's
    first round reads with no data key unwrapped yet: ``first_round`` in the report).
    """
    order = [item.id for item in items]
    random.Random(SEED).shuffle(order)
    rounds: list[dict[str, dict[str, float]]] = []
    for number in range(runs):
        progress(f"round {number + 1} of {runs}: writes ({len(items)} items)")
        rounds.append({})
        for kind in kinds if number % 2 == 0 else kinds[::-1]:
            rounds[-1][kind.name] = write_round(kind, workdir, number, items)
    opened = {kind.name: kind.reopen(workdir / f"{kind.name}-each-0.db") for kind in kinds}
    try:
        for number in range(runs):
            progress(f"round {number + 1} of {runs}: reads")
            for kind in kinds if number % 2 == 0 else kinds[::-1]:
                rounds[number][kind.name].update(read_round(opened[kind.name], order))
    finally:
        for backend in opened.values():
            backend.close()
    return rounds


def open_sealed(path: Path) -> Backend:
    return SealedBackend(Profile.open(path, PASSPHRASE))


def create_sealed(path: Path) -> Backend:
    return SealedBackend(Profile.create(path, PASSPHRASE))


def measure_unlock(path: Path) -> tuple[list[float], dict[str, Any]]:
    """Seconds of each ``Profile.open`` + ``close``, and the KDF parameters (salt left out)."""
    runs: list[float] = []
    kdf: dict[str, Any] = {}
    for _ in range(UNLOCK_RUNS):
        started = time.perf_counter()
        profile = Profile.open(path, PASSPHRASE)
        profile.close()
        runs.append(time.perf_counter() - started)
        kdf = {k: v for k, v in profile.store.kdf.to_json().items() if k != "salt"}
    return runs, kdf


def row(operation: str, count: int, rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Median seconds of each kind, and the median of the rounds' own ratios."""
    sealed = [r["sealed"][operation] for r in rounds]
    plain = [r["plaintext"][operation] for r in rounds]
    ratios = [s / p for s, p in zip(sealed, plain, strict=True)]
    return {
        "operation": operation,
        "items": count,
        "sealed_seconds": round(statistics.median(sealed), 6),
        "plaintext_seconds": round(statistics.median(plain), 6),
        "sealed_ops_per_s": round(count / statistics.median(sealed), 1),
        "plaintext_ops_per_s": round(count / statistics.median(plain), 1),
        "ratio_sealed_over_plaintext": round(statistics.median(ratios), 3),
        "ratios_per_round": [round(ratio, 3) for ratio in ratios],
    }


def config(count: int, runs: int, kdf: dict[str, Any]) -> dict[str, Any]:
    return {
        "items": count,
        "runs": runs,
        "seed": SEED,
        "embedding_dim": EMBEDDING_DIM,
        "unlock_runs": UNLOCK_RUNS,
        "kdf": kdf,
        "sqlite_pragmas": list(PLAINTEXT_PRAGMAS),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cryptography": version("cryptography"),
        "numpy": np.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "temp_dir": tempfile.gettempdir(),
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


SEALED = Kind("sealed", create_sealed, open_sealed)
PLAINTEXT = Kind("plaintext", PlaintextBackend, PlaintextBackend)


def run(count: int, runs: int = DEFAULT_RUNS) -> dict[str, Any]:
    """Every measurement, in temporary folders, as the JSON report."""
    items = make_items(count)
    with tempfile.TemporaryDirectory(prefix="fedpersona-bench-") as tmp:
        workdir = Path(tmp)
        rounds = interleaved((SEALED, PLAINTEXT), workdir, items, runs)
        progress(f"sealed: unlock ({UNLOCK_RUNS} runs)")
        unlock_runs, kdf = measure_unlock(workdir / "sealed-each-0.db")
    rows = [row(op, count, rounds) for op in OPERATIONS]
    unlock_median = statistics.median(unlock_runs)
    read_ratios = [
        r["ratio_sealed_over_plaintext"] for r in rows if r["operation"] in READ_OPERATIONS
    ]
    first = {
        op: round(rounds[0]["sealed"][op] / rounds[0]["plaintext"][op], 3) for op in READ_OPERATIONS
    }
    return {
        "config": config(count, runs, kdf),
        "rows": rows,
        "first_round_read_ratios": first,
        "unlock_seconds": {
            "median": round(unlock_median, 4),
            "runs": [round(t, 4) for t in unlock_runs],
        },
        "targets": {
            "reads_within_2x": all(ratio <= READS_TARGET_RATIO for ratio in read_ratios),
            "unlock_under_1s": unlock_median < UNLOCK_TARGET_S,
        },
    }


def render(report: dict[str, Any]) -> str:
    """The report as an aligned text table plus the unlock time and the targets."""
    header = ("operation", "items", "sealed ops/s", "plaintext ops/s", "sealed/plaintext")
    body = [
        (
            r["operation"],
            str(r["items"]),
            f"{r['sealed_ops_per_s']:,.0f}",
            f"{r['plaintext_ops_per_s']:,.0f}",
            f"{r['ratio_sealed_over_plaintext']:.2f}x",
        )
        for r in report["rows"]
    ]
    return "\n".join([*table(header, body), "", *summary(report)])


def summary(report: dict[str, Any]) -> list[str]:
    kdf = report["config"]["kdf"]
    unlock = report["unlock_seconds"]
    targets = report["targets"]
    first = report["first_round_read_ratios"]
    return [
        f"median of {report['config']['runs']} interleaved rounds; load average "
        f"{report['config']['load_average']}",
        "first round (no data key unwrapped yet): "
        + ", ".join(f"{op} {ratio:.2f}x" for op, ratio in first.items()),
        f"unlock (Profile.open + close), median of {len(unlock['runs'])}: "
        f"{unlock['median']:.3f} s  runs {unlock['runs']}",
        f"KDF: {kdf['algorithm']}, {kdf['memory_kib']} KiB, {kdf['iterations']} passes, "
        f"{kdf['lanes']} lane(s)",
        f"target sealed reads within {READS_TARGET_RATIO:g}x of plaintext: "
        f"{'met' if targets['reads_within_2x'] else 'NOT met'}",
        f"target unlock under {UNLOCK_TARGET_S:g} s: "
        f"{'met' if targets['unlock_under_1s'] else 'NOT met'}",
    ]


def progress(message: str) -> None:
    print(f"[bench.store] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.store", description=__doc__.split("\n")[0] if __doc__ else None
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"JSON report (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--items", type=positive_int, default=None, help=f"items (default {DEFAULT_ITEMS})"
    )
    parser.add_argument("--quick", action="store_true", help=f"use {QUICK_ITEMS} items")
    parser.add_argument(
        "--runs",
        type=positive_int,
        default=DEFAULT_RUNS,
        help=f"interleaved rounds; each row is their median (default {DEFAULT_RUNS})",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    count = args.items or (QUICK_ITEMS if args.quick else DEFAULT_ITEMS)
    report = run(count, args.runs)
    write_report(report, args.out)
    print(render(report))
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
