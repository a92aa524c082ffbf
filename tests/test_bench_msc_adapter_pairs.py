"""MSC training pairs for the memory adapter, on a small self-written MSC-shaped file."""

from __future__ import annotations

import json
import lzma
from pathlib import Path

import numpy as np

from bench.msc_adapter_pairs import SESSIONS, pair_groups

EPISODE = {
    "dialog": [
        {"id": "bot_0", "text": "Hi, how are you?"},
        {"id": "bot_1", "text": "Tired, I work two jobs.", "persona_text": "I have two jobs."},
        {"id": "bot_0", "text": "I just watched a horror film.", "persona_text": "I like horror."},
    ],
    "followup": "Do you like horror films?",
}


def write_sessions(root: Path) -> None:
    for session in SESSIONS:
        folder = root / f"msc/msc_personasummary/session_{session}"
        folder.mkdir(parents=True)
        with lzma.open(folder / "valid.txt.xz", "wt", encoding="utf-8") as out:
            out.write(json.dumps(EPISODE) + "\n")


def keyword_embed(texts: list[str]) -> np.ndarray:
    """One axis per topic word, so "horror" texts are near each other and nothing else."""
    words = ("jobs", "horror", "hi")
    rows = np.array([[float(w in t.lower()) for w in words] + [0.1] for t in texts], np.float32)
    return np.asarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def test_each_statement_points_at_the_window_of_its_utterance(tmp_path: Path) -> None:
    write_sessions(tmp_path)
    groups = pair_groups(tmp_path, keyword_embed, source="statements")
    assert len(groups) == len(SESSIONS)
    np.testing.assert_array_equal(groups[0].positive, [[False, True, False], [False, False, True]])


def test_a_followup_points_at_the_utterance_of_its_nearest_statement(tmp_path: Path) -> None:
    write_sessions(tmp_path)
    groups = pair_groups(tmp_path, keyword_embed, source="followups")
    assert groups[0].queries.shape[0] == 1
    np.testing.assert_array_equal(groups[0].positive, [[False, False, True]])  # horror
