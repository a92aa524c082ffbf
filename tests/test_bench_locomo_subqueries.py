"""The sub-query benchmark: a zero share is the search stage, a share changes it, and the
held-out share is chosen on the other conversations only."""

from __future__ import annotations

import numpy as np

from bench.locomo_data import SAMPLE_FILE, load_conversations
from bench.locomo_subqueries import FAMILIES, SHARES, _held_out, build, recall_rows
from bench.locomo_tuning import ALL_SHARES, recalls
from bench.locomo_tuning import Built as TuningBuilt
from client.memory_engine import EngineConfig
from models.data.locations import data_dir


def test_sub_queries_fuse_into_the_search_stage_order(onnx_embedder) -> None:
    (conversation,) = load_conversations(data_dir(), SAMPLE_FILE)
    costs: list[float] = []
    built = build(conversation, onnx_embedder, costs)
    shares = {name: float(getattr(EngineConfig(), name)) for name in ALL_SHARES}

    plain = recall_rows(built, "words", 0.0, shares)
    for family in FAMILIES:
        assert np.array_equal(recall_rows(built, family, 0.0, shares), plain)
    mains = [q.main for q in built.questions]
    search_stage = recalls(TuningBuilt(conversation, built.index, built.dias, mains), shares)
    assert np.allclose(search_stage, plain)

    assert sum(bool(q.subs["words"]) for q in built.questions) == len(built.questions)
    assert len(costs) == len(built.questions)
    assert not np.array_equal(recall_rows(built, "words", 1.0, shares), plain)


def test_the_held_out_share_is_chosen_on_the_other_conversations() -> None:
    # Conversation a does best at share 0.5, b at 0: each is scored with the other's pick.
    low, high = np.array([[0.0, 0.0, 0.2]]), np.array([[1.0, 1.0, 0.9]])
    fold = {s: [low, high] for s in SHARES}
    fold[0.5] = [high, low]
    result = _held_out("words", fold, ["a", "b"])
    assert result["picks"] == {"a": 0.0, "b": 0.5}
    assert result["recall"] == [0.0, 0.0, 20.0]
