"""The dashboard's options, declared once: the `fedpersona dashboard` flags and what the
Streamlit app reads after ``--`` both come from here."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dashboard.cohort import DEFAULT_MIN_COHORT, check_min_cohort


@dataclass(frozen=True)
class Options:
    store: Path = Path("runs")
    min_cohort: int = DEFAULT_MIN_COHORT
    refresh_seconds: float = 5.0

    def as_arguments(self) -> list[str]:
        """The flags that give these options back (for the Streamlit app's command line)."""
        return [
            "--store",
            str(self.store),
            "--min-cohort",
            str(self.min_cohort),
            "--refresh-seconds",
            str(self.refresh_seconds),
        ]


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        type=Path,
        default=Options.store,
        help="a metrics.sqlite, a run folder, or a folder of run folders to pick among "
        f"(default: {Options.store})",
    )
    parser.add_argument(
        "--min-cohort",
        type=int,
        default=Options.min_cohort,
        help=f"fewest clients a shown statistic covers (default: {Options.min_cohort})",
    )
    parser.add_argument(
        "--refresh-seconds",
        type=float,
        default=Options.refresh_seconds,
        help=f"reload interval while a run is running (default: {Options.refresh_seconds:g})",
    )


def options_from(args: argparse.Namespace) -> Options:
    """The options parsed flags describe; a minimum cohort below 1 raises ValueError."""
    return Options(args.store, check_min_cohort(args.min_cohort), args.refresh_seconds)


def parse_options(argv: Sequence[str]) -> Options:
    parser = argparse.ArgumentParser(prog="dashboard", add_help=False)
    add_option_arguments(parser)
    known, _ = parser.parse_known_args(list(argv))
    return options_from(known)
