"""`fedpersona demo`: the scripted store session (what `make run` runs for now)."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulation.store_tour import run_store_tour


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo", help="run a scripted session against a fresh encrypted store and print it"
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("runs/store-tour"),
        help="folder for the tour's store (replaced on each run)",
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    print(f"fedpersona store tour in {args.out}/")
    result = run_store_tour(args.out)
    healthy = (
        result["plaintext_occurrences"] == 0
        and not result["old_passphrase_unlocks"]
        and result["forgotten_key_occurrences"] == 0
        and result["integrity_ok"]
    )
    print("all checks passed" if healthy else "SOME CHECKS FAILED (see above)")
    return 0 if healthy else 1
