"""The tuning script's fast recombination ranks as the engine's search does, on real turns."""

from __future__ import annotations

import numpy as np

from bench.locomo_data import SAMPLE_FILE, load_conversations
from bench.locomo_tuning import Built, build_index, check_against_search, recalls, signals_of
from models.data.locations import data_dir

SHARES = {
    "lexical_weight": 0.4,
    "context_weight": 0.4,
    "answer_weight": 0.3,
    "speaker_weight": 0.15,
    "date_weight": 0.8,
    "session_weight": 0.4,
}


def test_combine_agrees_with_search_and_the_shares_change_recall(onnx_embedder):
    (conversation,) = load_conversations(data_dir(), SAMPLE_FILE)
    index, dias = build_index(conversation, onnx_embedder)
    assert len(set(index.sessions().tolist())) == len(conversation.sessions)  # session signal on
    built = Built(conversation, index, dias, signals_of(index, conversation, onnx_embedder))

    check_against_search(built, SHARES, onnx_embedder)  # raises if the orders differ
    nameless = {**SHARES, "nameless_weight": 0.5}
    check_against_search(built, nameless, onnx_embedder)
    assert not np.allclose(recalls(built, nameless), recalls(built, SHARES))

    with_signals = recalls(built, SHARES).mean(axis=0)
    dense_only = recalls(built, dict.fromkeys(SHARES, 0.0)).mean(axis=0)
    assert with_signals.shape == (3,)
    assert np.all((with_signals >= 0.0) & (with_signals <= 1.0))
    assert not np.allclose(with_signals, dense_only)
