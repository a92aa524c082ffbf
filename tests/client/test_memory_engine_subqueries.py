"""Sub-queries of a question and their reciprocal-rank fusion, on small sentences."""

from __future__ import annotations

import numpy as np
import pytest

from client.memory_engine.subqueries import (
    RRF_K,
    clauses,
    content_words,
    named_people,
    ranks,
    rrf_fuse,
)


def test_content_words_drop_names_stop_words_and_the_question_frame() -> None:
    assert content_words("What books has John read?", ["John"]) == ["books", "read"]
    assert content_words("What kind of art does Caroline make?", ["caroline"]) == ["art", "make"]
    assert content_words("What has she done with her family?") == ["family"]


def test_clauses_split_a_question_only_when_it_has_two_parts() -> None:
    assert clauses("What did Tim read, and where did John travel?") == [
        "What did Tim read",
        "where did John travel?",
    ]
    assert clauses("What sports does John like besides basketball?") == [
        "What sports does John like",
        "basketball?",
    ]
    assert clauses("What books has John read?") == []
    assert clauses("Did he stay, or not?") == []  # "not" is a stop word: one part holds words


def test_people_are_named_only_when_two_or_more() -> None:
    people = ["gina", "jon", "tim"]
    assert named_people("What do Jon and Gina both have in common?", people) == ["gina", "jon"]
    assert named_people("What pets does Jon have?", people) == []


def test_a_zero_share_keeps_the_question_order_exactly() -> None:
    main = np.array([0.3, 0.9, 0.1], np.float32)
    assert rrf_fuse(main, [np.array([1.0, 0.0, 2.0], np.float32)], 0.0) is main
    assert rrf_fuse(main, [], 1.0) is main


def test_a_row_every_sub_query_ranks_first_rises() -> None:
    main = np.array([0.9, 0.8, 0.7, 0.6], np.float32)  # row 3 last
    subs = [np.array([0.0, 0.1, 0.2, 0.9], np.float32), np.array([0.0, 0.2, 0.1, 0.5], np.float32)]
    fused = rrf_fuse(main, subs, 2.0)
    assert ranks(fused)[3] == 0
    # Cormack et al.: 1 / (k + rank), rank from 0 here; row 3: last in main, first in both.
    assert fused[3] == pytest.approx(1 / (RRF_K + 3) + 2 / RRF_K)
    assert fused[0] == pytest.approx(1 / RRF_K + 2 / (RRF_K + 3))  # first in main, last in both
    small = rrf_fuse(main, subs, 0.01)
    assert list(np.argsort(-small)) == [0, 1, 2, 3]  # a small share breaks no order


def test_bad_fusion_arguments_name_the_value() -> None:
    main = np.zeros(3, np.float32)
    with pytest.raises(ValueError, match=r"share must not be negative, got -0\.5"):
        rrf_fuse(main, [main], -0.5)
    with pytest.raises(ValueError, match="k must be at least 1, got 0"):
        rrf_fuse(main, [main], 1.0, k=0)
    with pytest.raises(ValueError, match=r"sub-query scores \(2,\) do not match \(3,\)"):
        rrf_fuse(main, [np.zeros(2, np.float32)], 1.0)
