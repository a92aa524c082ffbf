"""Each retrieval signal on a small hand-written index: dates, answers, speakers, stems, windows.

The vectors are hand-made (4 dimensions) so each test controls the dense score and
isolates one signal: the same ranking with the signal's weight at 0 puts the items the
other way round, so every test can fail.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from client.memory import MemoryItem
from client.memory_engine.config import EngineConfig
from client.memory_engine.dates import NamedDate, date_match, named_dates
from client.memory_engine.index import IndexEntry, MemoryIndex, lexical_terms
from client.memory_engine.retrieval import (
    Stages,
    nameless_message,
    query_vectors,
    search,
    signal_pool,
)
from client.memory_engine.writer import window_texts

# Only the signal under test: no BM25, no neighbour share, no speaker or date bonus.
QUIET = EngineConfig(
    lexical_weight=0.0,
    context_weight=0.0,
    speaker_weight=0.0,
    answer_weight=0.0,
    date_weight=0.0,
    session_weight=0.0,
)
NO_LINKS = Stages(links=False)


def _at(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, 14, 0, tzinfo=UTC).timestamp()


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _index(rows: list[tuple[IndexEntry, np.ndarray]]) -> MemoryIndex:
    index = MemoryIndex(4)
    for entry, vector in rows:
        index.add(entry, vector)
    return index


def _order(index: MemoryIndex, message: str, query: np.ndarray, config: EngineConfig) -> list[str]:
    return [c.id for c in search(index, message, query, config, NO_LINKS)]


def test_named_dates_reads_calendar_dates_and_not_the_verb_may():
    assert named_dates("What book did Tim finish on 8th December, 2023?") == [
        NamedDate(2023, 12, 8)
    ]
    assert named_dates("What did she cook on May 25, 2023?") == [NamedDate(2023, 5, 25)]
    assert named_dates("What class did Maria start in January 2024?") == [NamedDate(2024, 1, None)]
    assert named_dates("Which charity event did he run in 2024?") == [NamedDate(2024, None, None)]
    assert named_dates("Where did they go in May?") == [NamedDate(None, 5, None)]
    assert named_dates("What may she like to eat?") == []
    assert named_dates("When did Caroline go to the support group?") == []


def test_date_match_ranks_the_named_day_over_nearby_days_over_the_month():
    times = np.array(
        [
            _at(2023, 12, 8),  # the day named
            _at(2023, 12, 10),  # two days after
            _at(2023, 12, 25),  # same month
            _at(2023, 6, 8),  # same day number, another month
            0.0,  # unknown
        ]
    )
    scores = date_match(times, "What did Tim read on 8 December 2023?")
    assert scores.tolist() == [1.0, 0.5, 0.25, 0.0, 0.0]
    assert date_match(times, "What did Tim read in 2023?").tolist() == [0.25] * 4 + [0.0]
    assert date_match(times, "What did Tim read?").tolist() == [0.0] * 5


def test_a_memory_said_on_the_named_date_outranks_a_closer_one_from_another_day():
    message = "What book did Tim finish on 8 December, 2023?"
    query = _unit(1, 0, 0, 0)
    index = _index(
        [
            (
                IndexEntry(id="june", text="a finished novel", kind="turn", at=_at(2023, 6, 2)),
                _unit(1, 0.3, 0, 0),
            ),
            (
                IndexEntry(
                    id="december", text="a finished story", kind="turn", at=_at(2023, 12, 8)
                ),
                _unit(1, 1, 0, 0),
            ),
        ]
    )
    assert _order(index, message, query, QUIET) == ["june", "december"]
    dated = EngineConfig(**{**vars(QUIET), "date_weight": 0.8})
    assert _order(index, message, query, dated) == ["december", "june"]
    found = search(index, message, query, dated, NO_LINKS)
    assert [c.features["date"] for c in found] == [1.0, 0.0]


def test_an_answer_gains_from_the_question_asked_just_before_it():
    # "Which team did you sign with?" matches the message; the answer shares no words
    # with it. A statement before an unrelated turn lends nothing.
    message = "Which team did John sign with?"
    query = _unit(1, 0, 0, 0)
    index = _index(
        [
            (IndexEntry(id="ask", text="Which team did you sign with?", kind="turn"), query),
            (
                IndexEntry(id="answer", text="The Minnesota Wolves!", kind="turn", previous="ask"),
                _unit(0.1, 1, 0, 0),
            ),
            (
                IndexEntry(id="said", text="I signed a lease today.", kind="turn"),
                _unit(1, 0, 0, 0.2),
            ),
            (
                IndexEntry(
                    id="other", text="Pancakes for breakfast.", kind="turn", previous="said"
                ),
                _unit(0.2, 0, 1, 0),
            ),
        ]
    )
    assert _order(index, message, query, QUIET)[2:] == ["other", "answer"]
    answering = EngineConfig(**{**vars(QUIET), "answer_weight": 0.3})
    found = search(index, message, query, answering, NO_LINKS)
    assert [c.id for c in found][2:] == ["answer", "other"]
    features = {c.id: c.features["answer"] for c in found}
    assert features["answer"] > 0.9
    assert features["other"] == 0.0


def test_turns_by_the_person_the_message_names_gain_the_speaker_bonus():
    message = "What did Caroline paint?"
    query = _unit(1, 0, 0, 0)
    index = _index(
        [
            (
                IndexEntry(id="mel", text="painted sunrise", kind="turn", speaker="Melanie"),
                _unit(1, 0.5, 0, 0),
            ),
            (
                IndexEntry(id="car", text="painted sunset", kind="turn", speaker="Caroline"),
                _unit(1, 0.7, 0, 0),
            ),
        ]
    )
    assert _order(index, message, query, QUIET) == ["mel", "car"]
    named = EngineConfig(**{**vars(QUIET), "speaker_weight": 0.15})
    assert _order(index, message, query, named) == ["car", "mel"]


def test_an_item_from_the_session_where_the_message_matches_best_gains():
    # Two equally close items; one was said in the session that holds the best match.
    message = "What did Jon say about the dance studio?"
    query = _unit(1, 0, 0, 0)
    index = _index(
        [
            (IndexEntry(id="best", text="studio lease", kind="turn", session="s1"), query),
            (
                IndexEntry(id="other", text="rehearsal", kind="turn", session="s2"),
                _unit(1, 1, 0, 0),
            ),
            (
                IndexEntry(id="same", text="opening night", kind="turn", session="s1"),
                _unit(1, 1.05, 0, 0),
            ),
            (IndexEntry(id="remembered", text="explicit fact", kind="fact"), _unit(0, 0, 1, 0)),
        ]
    )
    assert _order(index, message, query, QUIET)[1:3] == ["other", "same"]
    grouped = EngineConfig(**{**vars(QUIET), "session_weight": 0.4})
    found = search(index, message, query, grouped, NO_LINKS)
    assert [c.id for c in found][1:3] == ["same", "other"]
    features = {c.id: c.features["session"] for c in found}
    assert features["same"] == 1.0
    assert features["remembered"] == 0.0  # no session: no bonus


def test_bm25_meets_a_word_in_another_form():
    assert lexical_terms("painted") == lexical_terms("paints") == lexical_terms("painting")
    index = _index(
        [
            (
                IndexEntry(id="paint", text="I painted a sunrise last week.", kind="turn"),
                _unit(1, 0, 0, 0),
            ),
            (IndexEntry(id="run", text="I ran a charity race.", kind="turn"), _unit(0, 1, 0, 0)),
        ]
    )
    scores = index.lexical_scores("What does Melanie paint?")
    assert scores[0] > 0.0
    assert scores[1] == 0.0


def test_window_texts_embed_each_turn_with_the_turns_around_it():
    items = [
        MemoryItem(text=text, kind="turn", meta={"speaker": speaker})
        for speaker, text in [("Tim", "Which team?"), ("John", "The Wolves!"), ("Tim", "Nice.")]
    ]
    assert window_texts(items) == [
        "Tim: Which team?\nJohn: The Wolves!",
        "Tim: Which team?\nJohn: The Wolves!\nTim: Nice.",
        "John: The Wolves!\nTim: Nice.",
    ]


def test_an_index_with_no_word_bm25_keeps_is_searched_by_meaning_alone():
    # Emoji, one-letter words and stop words give BM25 an empty vocabulary (bm25s
    # raised on it); search still ranks by the dense score, and the lexical scores are 0.
    index = _index(
        [
            (IndexEntry(id="smile", text="😀 😀", kind="turn"), _unit(1, 0, 0, 0)),
            (IndexEntry(id="letters", text="a b c", kind="turn"), _unit(0, 1, 0, 0)),
            (IndexEntry(id="stop", text="it is to be", kind="turn"), _unit(0, 0, 1, 0)),
        ]
    )

    found = _order(index, "a 😀", _unit(0.2, 1, 0, 0), EngineConfig())

    assert index.lexical_scores("a 😀").tolist() == [0.0, 0.0, 0.0]
    assert found[:2] == ["letters", "smile"]


def test_bm25_comes_back_once_an_item_with_words_joins_a_wordless_index():
    index = _index([(IndexEntry(id="smile", text="😀", kind="turn"), _unit(1, 0, 0, 0))])
    assert index.lexical_scores("piano").tolist() == [0.0]

    index.add(IndexEntry(id="piano", text="I play the piano.", kind="turn"), _unit(0, 1, 0, 0))

    scores = index.lexical_scores("piano lessons")
    assert scores[1] > 0.0
    assert scores[0] == 0.0


def _chain(vectors: np.ndarray, per_session: int) -> MemoryIndex:
    """Turns said one after another (``previous``), ``per_session`` to a session."""
    index = MemoryIndex(vectors.shape[1])
    previous = ""
    for row, vector in enumerate(vectors):
        session = f"s{row // per_session}"
        entry = IndexEntry(
            id=f"t{row}",
            text=f"turn {row}?" if row % 3 == 0 else f"turn {row}",
            kind="turn",
            session=session,
            previous=previous if row % per_session else "",
        )
        index.add(entry, vector / np.linalg.norm(vector))
        previous = entry.id
    return index


def pool_rows(index: MemoryIndex, scores: np.ndarray, size: int) -> list[int]:
    return [int(r) for r in signal_pool(index, scores, size)]


def test_signal_pool_holds_the_best_rows_and_the_turns_around_them():
    vectors = np.eye(8, dtype=np.float32)
    index = _chain(vectors, per_session=8)
    scores = np.zeros(8, dtype=np.float32)
    scores[[2, 6]] = [1.0, 0.9]
    assert pool_rows(index, scores, 2) == [1, 2, 3, 5, 6, 7]
    assert pool_rows(index, scores, 8) == list(range(8))  # no larger than the pool: whole


def test_a_small_signal_pool_ranks_the_candidates_as_the_whole_index_does():
    rng = np.random.default_rng(3)
    index = _chain(rng.normal(size=(120, 8)).astype(np.float32), per_session=10)
    query = _unit(*rng.normal(size=8))
    whole = EngineConfig(candidates=5, signal_pool=1000)
    pooled = EngineConfig(candidates=5, signal_pool=30)
    found = search(index, "turn", query, whole, NO_LINKS)
    assert [c.id for c in search(index, "turn", query, pooled, NO_LINKS)] == [c.id for c in found]
    assert any(c.features["session"] > 0 and c.features["answer"] > 0 for c in found)


def test_a_named_date_lifts_a_row_from_outside_the_best_fused_rows_into_the_pool():
    query = _unit(1, 0, 0, 0)
    rows = [
        (
            IndexEntry(id=f"near{i}", text="x", kind="turn", at=_at(2023, 1, 2)),
            _unit(1, 1 + 0.1 * i, 0, 0),
        )
        for i in range(1, 5)
    ]
    rows.append(
        (IndexEntry(id="dated", text="x", kind="turn", at=_at(2023, 5, 8)), _unit(0, 1, 0, 0))
    )
    index = _index(rows)
    config = EngineConfig(**{**vars(QUIET), "date_weight": 0.8, "candidates": 1, "signal_pool": 1})
    assert _order(index, "What happened on 8 May 2023?", query, config) == ["dated"]
    assert _order(index, "What happened?", query, config) == ["near1"]


def test_nameless_message_drops_the_indexed_speakers_names_and_their_possessives():
    index = _index(
        [(IndexEntry(id="j", text="hi", kind="turn", speaker="John"), _unit(1, 0, 0, 0))]
    )
    assert nameless_message(index, "What books has John read?") == "What books has read?"
    assert nameless_message(index, "Where is John's dog?") == "Where is dog?"
    assert nameless_message(index, "What books has Maria read?") is None  # not a speaker
    assert nameless_message(index, "John?") is None  # nothing left but the name


def test_the_name_free_query_finds_what_was_said_about_the_topic_not_by_the_name():
    # The message's own vector sits near everything John said; without the name, near books.
    said_by_john = _unit(1, 0, 0, 0)
    about_books = _unit(0, 1, 0, 0)
    index = _index(
        [
            (IndexEntry(id="other", text="hi", kind="turn", speaker="John"), _unit(1, 0.3, 0, 0)),
            (
                IndexEntry(id="books", text="a saga", kind="turn", speaker="John"),
                _unit(0.4, 1, 0, 0),
            ),
        ]
    )
    message = "What books has John read?"
    plain = EngineConfig(**{**vars(QUIET), "nameless_weight": 0.0})
    mixed = EngineConfig(**{**vars(QUIET), "nameless_weight": 0.5})
    assert _order(index, message, said_by_john, plain) == ["other", "books"]
    found = search(index, message, said_by_john, mixed, NO_LINKS, nameless=about_books)
    assert [c.id for c in found] == ["books", "other"]
    assert (
        search(index, message, said_by_john, plain, NO_LINKS, nameless=about_books)[0].id == "other"
    )


def test_query_vectors_embeds_the_name_free_message_only_when_a_speaker_is_named(onnx_embedder):
    index = _index(
        [(IndexEntry(id="j", text="hi", kind="turn", speaker="John"), _unit(1, 0, 0, 0))]
    )
    config = EngineConfig()
    query, nameless = query_vectors(onnx_embedder, index, "What books has John read?", config)
    assert nameless is not None
    assert float(query @ nameless) < 0.99
    expected = onnx_embedder.embed(["What books has read?"])[0]
    assert np.allclose(nameless, expected, atol=1e-5)
    assert query_vectors(onnx_embedder, index, "What books are good?", config)[1] is None
    off = EngineConfig(nameless_weight=0.0)
    assert query_vectors(onnx_embedder, index, "What books has John read?", off)[1] is None
