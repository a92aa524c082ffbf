"""PrefEval multiple choice (Zhao et al. 2025, arXiv 2502.09597): one stated preference,
one question, four options of which the first in the file follows the preference.

Files: ``prefeval/mcq_options/<topic>.json``, a list of records with ``preference``,
``question`` and ``classification_task_options``. The benchmark shuffles the options at
evaluation time; here they are shuffled with a seeded generator per record, and the
gold's new index is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.data.locations import DataFormatError


@dataclass(frozen=True)
class PrefEvalItem:
    topic: str
    preference: str
    question: str
    options: tuple[str, ...]  # shuffled
    gold: int  # index of the preference-following option in ``options``


def load_prefeval_topic(path: Path, *, seed: int) -> list[PrefEvalItem]:
    """The records of one topic file, options shuffled with ``seed``."""
    rng = np.random.default_rng(seed)
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
        items = []
        for record in records:
            options = [str(o) for o in record["classification_task_options"]]
            order = rng.permutation(len(options))
            items.append(
                PrefEvalItem(
                    path.stem,
                    str(record["preference"]),
                    str(record["question"]),
                    tuple(options[i] for i in order),
                    int(np.flatnonzero(order == 0)[0]),
                )
            )
    except (json.JSONDecodeError, KeyError, TypeError, IndexError) as error:
        raise DataFormatError(f"{path}: not a PrefEval mcq_options file ({error})") from error
    return items


def load_prefeval(folder: Path, *, seed: int) -> list[PrefEvalItem]:
    """Every topic in ``folder`` (sorted by name), each shuffled with its own derived seed."""
    paths = sorted(folder.glob("*.json"))
    if not paths:
        raise DataFormatError(f"{folder}: no PrefEval topic files")
    return [
        item
        for number, path in enumerate(paths)
        for item in load_prefeval_topic(path, seed=seed * 1000 + number)
    ]
