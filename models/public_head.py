"""The public start head: the head of issue 13's targets, trained centrally on public data.

A federation, and a device before it has trained on its person's signals, start from this
head instead of an untrained one. It is ``REPLY_HEAD`` (models.robust_head: persona
evidence against the row's null, plus the context-to-reply term) with only its term
trained, by ``fit_reply_term``, on the ConvAI2 training split of the generalisation
benchmark's seed 0 (bench.public_head rebuilds it; the file's ``extra`` says from what),
in ``OVERLAP_HEAD``'s shape: the term also weighs the words a candidate shares with the
context, that weight at zero (the same scores), for each federation to learn on its own
people (ConvAI2 itself ranks the same with or without it).
On bench/generalisation.py that head, with the stance stage, is the one that meets the
issue's central targets (docs/benchmarks.md, "A context-to-reply term").

Starting from it costs no privacy: it saw none of the federation's users, only a public
data set of people who are not them (ConvAI2: Zhang et al. 2018, Dinan et al. 2019,
released through ParlAI with no licence of its own; none of the non-commercial sets).
It ships inside the package and inside the Flower app bundle, so nothing is downloaded at
run time. The file is JSON (its arrays as base64 float32), because a Flower app bundle
carries text files only.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from models.reranking_head import HeadConfig, RerankingHead
from models.robust_head import OVERLAP_HEAD
from models.weights import get_weights, set_weights

PUBLIC_HEAD_PATH = Path(__file__).with_name("checkpoints") / "public_reply_head.json"
FORMAT = "fedpersona-public-head"


@dataclass(frozen=True)
class PublicHead:
    model: RerankingHead
    extra: dict[str, Any]  # what it was trained on and how (bench.public_head)


def write_public_head(path: Path, model: RerankingHead, extra: dict[str, Any]) -> None:
    arrays = [
        {"shape": list(a.shape), "float32": base64.b64encode(a.astype("<f4").tobytes()).decode()}
        for a in get_weights(model)
    ]
    document = {"format": FORMAT, "config": model.config.to_json(), "extra": extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**document, "arrays": arrays}) + "\n")


def read_public_head(path: Path = PUBLIC_HEAD_PATH) -> PublicHead:
    """The head in ``path`` and its ``extra``; a missing, unreadable or reshaped file is an
    error that names it."""
    if not path.is_file():
        raise FileNotFoundError(
            f"the public start head {path} is missing (rebuild it: python -m bench.public_head)"
        )
    try:
        document = json.loads(path.read_text())
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r}, not {FORMAT!r}")
        config = HeadConfig.from_json(document["config"])
        arrays = [
            np.frombuffer(base64.b64decode(a["float32"], validate=True), "<f4").reshape(a["shape"])
            for a in document["arrays"]
        ]
        model = RerankingHead(config)
        set_weights(model, arrays)
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise ValueError(f"{path} is not a readable public head: {error}") from error
    return PublicHead(model, dict(document.get("extra", {})))


def load_public_head(path: Path = PUBLIC_HEAD_PATH) -> RerankingHead:
    """The shipped public head (``OVERLAP_HEAD``'s shape, or an error)."""
    model = read_public_head(path).model
    if model.config != OVERLAP_HEAD:
        raise ValueError(f"{path} holds a head of another shape: {model.config}")
    return model
