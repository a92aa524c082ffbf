"""Shared words (models.lexical_overlap): what counts, and how the head's input carries it."""

from __future__ import annotations

import numpy as np

from models.encoded import concatenate, encode
from models.lexical_overlap import content_words, shared_word_counts
from models.ranking_task import RankingExample


def test_content_words_drop_case_short_words_and_fillers():
    assert content_words("Yeah, I think my Beagle MAX chewed the sofa!") == {
        "beagle",
        "max",
        "chewed",
        "sofa",
    }
    assert content_words("oh well, it is what it is") == frozenset()


def test_a_candidate_counts_each_word_it_shares_with_the_turn_once():
    counts = shared_word_counts(
        "Did Max chew the sofa again? Max is a menace.",
        ["Max chewed nothing; the sofa is fine", "Max Max Max", "I like painting", ""],
    )

    np.testing.assert_array_equal(counts, [2, 1, 0, 0])  # "chewed" is not "chew"


def _example(context: str, candidates: tuple[str, ...]) -> RankingExample:
    return RankingExample(
        user_id="u", position=0, context=context, candidates=candidates, persona=("i bake",)
    )


def _embed(texts: list[str]) -> np.ndarray:
    return np.ones((len(texts), 4), np.float32)


def test_encoded_rows_carry_the_counts_and_padding_stays_zero():
    short = encode([_example("my garden roses", ("roses again", "no"))], _embed, dimension=4)
    wide = encode(
        [_example("garden tools", ("garden tools here", "tools", "x"))], _embed, dimension=4
    )

    both = concatenate([short, wide])

    np.testing.assert_array_equal(short.shared_words, [[1, 0]])
    np.testing.assert_array_equal(both.shared_words, [[1, 0, 0], [2, 1, 0]])
    np.testing.assert_array_equal(both.subset([1]).shared_words, [[2, 1, 0]])


def test_a_callers_memo_gives_the_same_counts_and_learns_each_text_once():
    known: dict[str, frozenset[str]] = {}

    first = shared_word_counts("garden roses", ["roses", "garden roses"], known)
    again = shared_word_counts("garden roses", ["roses"], known)

    np.testing.assert_array_equal(first, [1, 2])
    np.testing.assert_array_equal(again, [1])
    assert set(known) == {"garden roses", "roses"}
