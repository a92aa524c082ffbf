"""The chat's head order gives the head the words each memory shares with the message
(models.lexical_overlap), as training did, on onnxruntime."""

from __future__ import annotations

import pytest
import torch

from client.chat.head_order import HeadOrder
from client.embedding import OnnxEmbedder
from client.memory_engine import MemoryEngine
from client.memory_engine.retrieval import Candidate
from client.personal_head import new_personal_head
from client.profile import Profile
from models.onnx_export import head_onnx_bytes
from models.public_head import load_public_head
from models.reply_match import REPLY_WEIGHT_SCALE
from models.weights import get_weights

MESSAGE = "Any idea what to cook for Priya on Friday?"
# The second shares two content words with the message ("priya", "friday"), the first none.
MEMORIES = ("I love cooking pasta dinners for friends.", "Priya flies to Lisbon on Friday.")


def _head_scores(engine: MemoryEngine, ids: list[str], stored_weight: float) -> dict[str, float]:
    model = load_public_head()
    with torch.no_grad():
        assert model.reply_match.overlap_weight is not None
        model.reply_match.overlap_weight.fill_(stored_weight)
    head = new_personal_head(
        head_onnx_bytes(model), get_weights(model), model.config.to_json(), signals=1
    )
    candidates = [Candidate(id=i, text=t, score=0.5) for i, t in zip(ids, MEMORIES, strict=True)]
    query = engine.embedder.embed([MESSAGE])[0]
    ordered = HeadOrder(head, engine)(MESSAGE, query, candidates)
    return {c.text: c.features["head"] for c in ordered}


def test_a_memory_gains_the_weight_for_each_word_it_shares_with_the_message(
    profile: Profile, onnx_embedder: OnnxEmbedder
) -> None:
    engine = MemoryEngine(profile, onnx_embedder)
    ids = [engine.remember(text, at=1.0)[0] for text in MEMORIES]

    plain = _head_scores(engine, ids, stored_weight=0.0)
    weighed = _head_scores(engine, ids, stored_weight=10.0)  # 0.5 a shared word as scored

    gain = {text: weighed[text] - plain[text] for text in MEMORIES}
    assert gain[MEMORIES[0]] == pytest.approx(0.0, abs=1e-5)
    assert gain[MEMORIES[1]] == pytest.approx(2 * 10.0 / REPLY_WEIGHT_SCALE, abs=1e-4)
