"""What every benchmark script shares: writing its JSON report and parsing counts."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def write_report(report: dict[str, Any], out: Path) -> None:
    """Write ``report`` as JSON atomically (a reader never sees half a file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f"{out.name}.tmp")
    staging.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    staging.replace(out)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive count, got {text}")
    return value


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned text table: first column left, the rest right."""
    widths = [max(len(line[i]) for line in (header, *rows)) for i in range(len(header))]
    lines = [
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in (header, *rows)
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def run_and_report(
    produce: Callable[[Callable[[str], None]], dict[str, Any]],
    show: Callable[[dict[str, Any]], None],
    out: Path,
) -> int:
    """Run a benchmark (progress to stderr), time it, print its table, write its JSON."""
    started = time.perf_counter()
    result = produce(lambda line: print(line, file=sys.stderr, flush=True))
    result["config"]["seconds"] = round(time.perf_counter() - started, 1)
    show(result)
    write_report(result, out)
    print(f"wrote {out}")
    return 0


def data_benchmark_main(
    *,
    description: str,
    default_out: Path,
    produce: Callable[[argparse.Namespace, Callable[[str], None]], dict[str, Any]],
    show: Callable[[dict[str, Any]], None],
    argv: list[str] | None = None,
    extra_arguments: Callable[[argparse.ArgumentParser], object] | None = None,
) -> int:
    """The command line shared by the benchmarks on ``../shared/data`` with a cached encoder.

    ``--out`` (the JSON), ``--data-dir`` (default: the shared data), ``--cache-dir`` (the
    encoder's cache) and ``--quick`` (a small slice, for tests); ``extra_arguments`` adds a
    benchmark's own.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--quick", action="store_true")
    if extra_arguments is not None:
        extra_arguments(parser)
    args = parser.parse_args(argv)
    return run_and_report(lambda log: produce(args, log), show, args.out)


def reason_kind(reason: str) -> str:
    """A fallback reason without the excerpt of the answer it quotes (the text after the
    first colon), so that reasons of one kind count together."""
    return reason.split(":", 1)[0]


class FallbackTally:
    """Who wrote each answer of an LLM memory part (the model or its offline fallback), and
    why the model's answer was not used, counted by ``reason_kind``."""

    def __init__(self) -> None:
        self.sources: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()

    def add(self, source: str, reason: str) -> None:
        self.sources[source] += 1
        if reason:
            self.reasons[reason_kind(reason)] += 1

    def fallback_reasons(self) -> dict[str, int]:
        return dict(self.reasons.most_common())


def add_llm_server_arguments(parser: argparse.ArgumentParser) -> None:
    """``--llm-url`` and ``--llm-model``: a model server for the engine's LLM parts."""
    parser.add_argument(
        "--llm-url", default=None, help="an OpenAI-compatible server's API root, e.g. .../v1"
    )
    parser.add_argument("--llm-model", default="local", help="the model name the server knows")


def llm_server_config(args: argparse.Namespace) -> dict[str, str] | None:
    """What the JSON's config records of ``add_llm_server_arguments``' options."""
    return {"url": args.llm_url, "model": args.llm_model} if args.llm_url else None
