"""Fixtures shared by the head's tests."""

from __future__ import annotations

import pytest

from models.data.locations import data_dir
from models.data.personachat import load_personachat
from models.encoded import EncodedExamples, encode
from models.ranking_task import RankingExample

CONVAI2_SAMPLE = "convai2_personachat/valid_both_original_no_cands-sample.txt"


@pytest.fixture(scope="module")
def exchange(onnx_embedder) -> EncodedExamples:
    """The first ConvAI2 exchange with 19 replies from later dialogues as candidates."""
    dialogues = load_personachat(data_dir() / CONVAI2_SAMPLE)
    first = dialogues[0]
    others = [e.response for d in dialogues[1:] for e in d.exchanges][:19]
    example = RankingExample(
        first.user_id,
        0,
        first.exchanges[0].context,
        first.persona,
        (first.exchanges[0].response, *others),
    )
    return encode([example], onnx_embedder.embed, dimension=384)
