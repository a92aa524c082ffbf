"""The stance stage acts only on the requester's own persona (models.stance_stage.stage_acts,
bench.generalisation_stage.PERSONA_OWNER)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.generalisation_stage import PERSONA_OWNER, _only_requests
from models.stance_scorer import StanceRow
from models.stance_stage import stage_acts, stage_order

REQUEST = "Which bakery should I visit this weekend?"
CANDIDATES = ("A patisserie known for its cheesecake", "A bakery famous for dairy-free cakes")
FACTS = ("I avoid cheesecake",)
HEAD = [2.0, 1.0]


def test_a_request_on_the_repliers_persona_is_ranked_as_by_the_head(onnx_embedder):
    assert stage_order(HEAD, REQUEST, FACTS, CANDIDATES, onnx_embedder.embed) == [1, 0]
    order = stage_order(
        HEAD, REQUEST, FACTS, CANDIDATES, onnx_embedder.embed, persona_owner="replier"
    )
    assert order == [0, 1]


def test_stage_acts_needs_a_request_and_the_requesters_persona():
    assert stage_acts(REQUEST)
    assert not stage_acts(REQUEST, "replier")
    assert not stage_acts("i just had cheesecake.", "requester")
    with pytest.raises(ValueError, match="got 'partner'"):
        stage_acts(REQUEST, "partner")


def test_the_benchmark_reads_whose_persona_each_set_holds():
    assert PERSONA_OWNER == {"convai2": "replier", "msc": "replier", "prefeval": "requester"}
    head = np.asarray([[2.0, 1.0]], np.float32)
    staged = np.asarray([[-5.0, 5.0]], np.float32)
    words = [StanceRow(REQUEST, FACTS, CANDIDATES)]

    on_msc = _only_requests(head, staged, words, ("msc", "valid_sessions_2_4"))
    on_prefeval = _only_requests(head, staged, words, ("prefeval", "mcq_dev_topics"))

    assert on_msc.argmax() == 0
    assert on_prefeval.argmax() == 1
    assert _only_requests(head, staged, words).argmax() == 1  # the rule before the owner
