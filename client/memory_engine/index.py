"""The decrypted, in-memory search index over long-term items (dense and BM25).

The store keeps every item sealed at rest; on unlock the engine decrypts the items once
into this index, which lives only in process memory and is never written anywhere.
Dense search is an exact scan (one matrix-vector product: 10k items x 384 dims is about
1 ms on one core) up to ``ann_threshold`` items; from there on, an approximate index
(:mod:`client.memory_engine.ann`, built in memory at the first search) proposes
``ANN_CANDIDATES`` rows, which are scored exactly. Lexical search is BM25 from ``bm25s``,
rebuilt lazily after changes because its sparse index does not support appends. Both
can be handed out (:meth:`MemoryIndex.search_state`) to be sealed into the store and
handed back at the next unlock (:mod:`client.memory_engine.sealed_index`), so that unlock does not
rebuild them; the index itself never writes anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import bm25s  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import Stemmer  # type: ignore[import-not-found]

from client.embedding.protocol import Vectors
from client.memory_engine.ann import AnnIndex

Scores = npt.NDArray[np.float32]
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
# Below this many items dense search scans every row: exact, and a few ms on one core.
# A year of daily chat is a few thousand items; the approximate index is for beyond.
ANN_THRESHOLD = 20_000
# Rows the approximate index proposes per query (each then scored exactly). Well above
# what retrieval keeps (EngineConfig.candidates) so fusion with BM25 still has choice.
ANN_CANDIDATES = 256
# Rebuild the approximate index once the rows grew or shrank by this factor since it was
# trained (its cells were fitted to the rows it saw; new rows are placed in the old cells).
ANN_REBUILD_FACTOR = 2.0


@dataclass(frozen=True)
class SearchState:
    """The built lexical and approximate indexes over the rows, as :meth:`search_state`
    hands them out and :meth:`restore_search_state` takes them back."""

    bm25: bm25s.BM25 | None  # None: no row has a word BM25 indexes
    ann: AnnIndex | None  # None: dense search is (still) an exact scan
    labels: npt.NDArray[np.int64]  # the approximate index's label of each row
    next_label: int


@dataclass(kw_only=True)
class IndexEntry:
    """What retrieval needs to know about one item, decrypted."""

    id: str
    text: str
    kind: str
    search: str = ""  # the text BM25 indexes (speaker and words); ``text`` if empty
    session: str | None = None
    speaker: str = ""
    at: float = 0.0
    links: set[str] = field(default_factory=set)
    superseded_by: str = ""
    previous: str = ""  # the item said just before (a fact: the turn it came from)
    pending: bool = False  # a fact not yet applied to the persona
    turn_id: str = ""  # the short-term turn the item was written from
    attribute: str = ""  # "category/name" of the persona attribute the item supports


class MemoryIndex:
    """Rows of unit vectors and BM25 postings, addressed by item id."""

    def __init__(
        self, dimension: int, *, ann_threshold: int = ANN_THRESHOLD, seed: int = 0
    ) -> None:
        """``ann_threshold``: from this many rows on, dense search is approximate;
        ``seed`` seeds the approximate index's training sample and k-means."""
        self.dimension = dimension
        self.ann_threshold = ann_threshold
        self._rng = np.random.default_rng(seed)
        self._ann: AnnIndex | None = None
        self._labels = np.zeros(0, dtype=np.int64)  # the approximate index's label of each row
        self._next_label = 0
        self._row_of_label: npt.NDArray[np.int64] | None = None
        self._entries: list[IndexEntry] = []
        self._position: dict[str, int] = {}
        self._matrix = np.zeros((0, dimension), dtype=np.float32)
        self._size = 0
        self._bm25: bm25s.BM25 | None = None
        self._bm25_stale = True
        self._speakers: dict[str, int] = {}
        self._neighbours: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None
        self._speaker_rows: npt.NDArray[np.int64] | None = None
        self._speaker_codes: dict[str, int] = {}
        self._asks: npt.NDArray[np.bool_] | None = None
        self._times: npt.NDArray[np.float64] | None = None
        self._sessions: npt.NDArray[np.int64] | None = None

    def __len__(self) -> int:
        return self._size

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._position

    def entry(self, item_id: str) -> IndexEntry:
        return self._entries[self._position[item_id]]

    def entries(self) -> list[IndexEntry]:
        return list(self._entries)

    def at(self, position: int) -> IndexEntry:
        return self._entries[position]

    def position(self, item_id: str) -> int:
        return self._position[item_id]

    def vector(self, item_id: str) -> Vectors:
        row: Vectors = self._matrix[self._position[item_id]]
        return row

    def rows(self, positions: list[int]) -> Vectors:
        """The vectors of the given rows, as one (len(positions), dimension) array."""
        picked: Vectors = self._matrix[positions]
        return picked

    def add(self, entry: IndexEntry, vector: Vectors) -> None:
        self.add_many([entry], np.asarray(vector, dtype=np.float32).reshape(1, -1))

    def add_many(self, entries: list[IndexEntry], vectors: Vectors) -> None:
        """Index ``entries`` with their unit vectors (shape (len(entries), dimension))."""
        if vectors.shape != (len(entries), self.dimension):
            raise ValueError(
                f"expected vectors of shape ({len(entries)}, {self.dimension}), got {vectors.shape}"
            )
        for entry in entries:
            if entry.id in self._position:
                raise KeyError(f"item {entry.id} is already indexed")
        self._reserve(self._size + len(entries))
        rows = slice(self._size, self._size + len(entries))
        self._matrix[rows] = vectors
        labels = np.arange(self._next_label, self._next_label + len(entries), dtype=np.int64)
        self._labels[rows] = labels
        self._next_label += len(entries)
        for offset, entry in enumerate(entries):
            self._position[entry.id] = self._size + offset
            self._entries.append(entry)
            if entry.speaker:
                name = entry.speaker.lower()
                self._speakers[name] = self._speakers.get(name, 0) + 1
        self._size += len(entries)
        if self._ann is not None:
            self._ann.add(vectors, labels)
        self._changed()

    def _reserve(self, rows: int) -> None:
        """Room for ``rows`` rows; grows by doubling, so appends cost amortised O(1)."""
        if rows <= self._matrix.shape[0]:
            return
        capacity = max(64, 2 * self._matrix.shape[0], rows)
        grown = np.zeros((capacity, self.dimension), dtype=np.float32)
        grown[: self._size] = self._matrix[: self._size]
        self._matrix = grown
        labels = np.zeros(capacity, dtype=np.int64)
        labels[: self._size] = self._labels[: self._size]
        self._labels = labels

    def _changed(self) -> None:
        self._bm25_stale = True
        self._neighbours = None
        self._speaker_rows = None
        self._row_of_label = None
        self._asks = None
        self._times = None
        self._sessions = None

    def remove(self, item_ids: set[str]) -> None:
        keep = [i for i, e in enumerate(self._entries) if e.id not in item_ids]
        if self._ann is not None:  # the forgotten rows' codes leave the approximate index
            gone = [self._position[i] for i in item_ids if i in self._position]
            self._ann.remove(self._labels[gone])
        self._labels = self._labels[keep]
        self._matrix = np.ascontiguousarray(self._matrix[keep])
        self._entries = [self._entries[i] for i in keep]
        self._position = {e.id: i for i, e in enumerate(self._entries)}
        self._size = len(self._entries)
        self._speakers = {}
        for entry in self._entries:
            if entry.speaker:
                name = entry.speaker.lower()
                self._speakers[name] = self._speakers.get(name, 0) + 1
            entry.links -= item_ids
        self._changed()

    def asks(self) -> npt.NDArray[np.bool_]:
        """True for each row whose words ask a question (the next turn may answer it)."""
        if self._asks is None:
            self._asks = np.array(["?" in e.text for e in self._entries], dtype=bool)
        return self._asks

    def sessions(self) -> npt.NDArray[np.int64]:
        """A number per row for the session it was said in (-1: none, e.g. /remember)."""
        if self._sessions is None:
            codes: dict[str, int] = {}
            self._sessions = np.array(
                [-1 if e.session is None else codes.setdefault(e.session, len(codes))
                 for e in self._entries],
                dtype=np.int64,
            )  # fmt: skip
        return self._sessions

    def times(self) -> npt.NDArray[np.float64]:
        """When each row was said (POSIX seconds; 0 when unknown)."""
        if self._times is None:
            self._times = np.array([e.at for e in self._entries], dtype=np.float64)
        return self._times

    def neighbours(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """(before, after): for each row, the row said just before and just after it, or -1.

        A fact's "before" is the turn it came from; "after" links only turns. Rebuilt
        after changes, like the BM25 index.
        """
        if self._neighbours is None:
            before = np.full(self._size, -1, dtype=np.int64)
            after = np.full(self._size, -1, dtype=np.int64)
            for row, entry in enumerate(self._entries):
                previous = self._position.get(entry.previous, -1)
                before[row] = previous
                if previous >= 0 and entry.kind == self._entries[previous].kind:
                    after[previous] = row
            self._neighbours = (before, after)
        return self._neighbours

    def said_by(self, names: set[str]) -> Scores:
        """1.0 for each row said by one of ``names`` (lower-cased), else 0.0."""
        if self._speaker_rows is None:  # one small integer per speaker: compared, not hashed
            codes: dict[str, int] = {}
            self._speaker_rows = np.array(
                [codes.setdefault(e.speaker.lower(), len(codes)) for e in self._entries],
                dtype=np.int64,
            )
            self._speaker_codes = codes
        wanted = [self._speaker_codes[n] for n in names if n in self._speaker_codes]
        return np.isin(self._speaker_rows, wanted).astype(np.float32)

    def speakers(self) -> set[str]:
        """Lower-cased names of everyone whose words are indexed."""
        return set(self._speakers)

    def dense_scores(self, query: Vectors) -> Scores:
        """Cosine of every item with the unit ``query`` vector: shape (len(self),).

        From ``ann_threshold`` rows on, only the rows the approximate index proposes get
        their exact cosine; every other row gets the lowest of those (a row the index did
        not find is taken to be no closer than the least close one it found).
        """
        query = query.astype(np.float32)
        if self._size < self.ann_threshold:
            self._ann = None  # shrunk below the threshold: the exact scan again
            scores: Scores = np.asarray(self._matrix[: self._size] @ query)
            return scores
        rows = self._approximate_rows(query)
        exact = self._matrix[rows] @ query
        scores = np.full(self._size, exact.min() if exact.size else 0.0, dtype=np.float32)
        scores[rows] = exact
        return scores

    def uses_ann(self) -> bool:
        """Whether dense search is approximate at the index's current size."""
        return self._size >= self.ann_threshold

    def _approximate_rows(self, query: Vectors) -> npt.NDArray[np.int64]:
        ann = self._ann
        if ann is None or not (
            1 / ANN_REBUILD_FACTOR <= self._size / ann.trained_size <= ANN_REBUILD_FACTOR
        ):
            ann = self._ann = AnnIndex(self._matrix[: self._size], self._rng)
            self._labels[: self._size] = np.arange(self._size)
            self._next_label = self._size
            self._row_of_label = None
        if self._row_of_label is None:
            self._row_of_label = np.full(self._next_label, -1, dtype=np.int64)
            self._row_of_label[self._labels[: self._size]] = np.arange(self._size)
        rows = self._row_of_label[ann.search(query, ANN_CANDIDATES)]
        return rows[rows >= 0]

    def search_state(self) -> SearchState:
        """The BM25 index (built now if stale) and the approximate index, if built."""
        self._fresh_bm25()
        labels = self._labels[: self._size].copy()
        return SearchState(self._bm25, self._ann, labels, self._next_label)

    def restore_search_state(self, state: SearchState) -> None:
        """Take back what :meth:`search_state` gave for these same rows (the caller checks
        that they are: ``client.memory_engine.sealed_index`` keeps a fingerprint of the rows)."""
        documents = 0 if state.bm25 is None else int(state.bm25.scores["num_docs"])
        if state.labels.shape != (self._size,) or documents not in (0, self._size):
            raise ValueError(
                f"a search state for {state.labels.shape[0]} rows ({documents} in BM25) "
                f"does not fit an index of {self._size}"
            )
        if state.bm25 is not None:  # else BM25 stays stale: built at the first search
            self._bm25, self._bm25_stale = state.bm25, False
        if state.ann is not None:
            if len(state.ann) != self._size or state.labels.max(initial=-1) >= state.next_label:
                raise ValueError(
                    f"an approximate index of {len(state.ann)} rows does not fit {self._size}"
                )
            self._ann = state.ann
            self._labels[: self._size] = state.labels
            self._next_label = state.next_label
            self._row_of_label = None

    def _fresh_bm25(self) -> None:
        if self._bm25_stale:
            self._bm25 = _bm25_over([lexical_terms(e.search or e.text) for e in self._entries])
            self._bm25_stale = False

    def lexical_scores(self, query: str) -> Scores:
        """BM25 score of every item for ``query`` (zeros when no query term is indexed)."""
        if self._size == 0:
            return np.zeros(0, dtype=np.float32)
        self._fresh_bm25()
        if self._bm25 is None:  # no item has a word BM25 indexes: dense search alone
            return np.zeros(self._size, dtype=np.float32)
        terms = [t for t in lexical_terms(query) if t in self._bm25.vocab_dict]
        if not terms:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)

    def nearest(self, vector: Vectors, count: int, *, exclude: str = "") -> list[tuple[str, float]]:
        """The ``count`` items most similar to ``vector`` (highest cosine first)."""
        if count <= 0 or self._size == 0:
            return []
        scores = self.dense_scores(vector)
        if exclude in self._position:
            scores[self._position[exclude]] = -np.inf
        order = top_positions(scores, count)
        return [(self._entries[i].id, float(scores[i])) for i in order if np.isfinite(scores[i])]


def _bm25_over(documents: list[list[str]]) -> bm25s.BM25 | None:
    """A BM25 index over ``documents`` (term lists), or None when no document has a term.

    bm25s cannot index an empty vocabulary (it takes the max of no ids), which is what
    memories made only of emoji, one-letter words or stop words give.
    """
    if not any(documents):
        return None
    bm25 = bm25s.BM25()
    bm25.index(documents, show_progress=False)
    return bm25


def tokenize(text: str) -> list[str]:
    """Lower-cased words of two or more characters, stop words removed (BM25's input)."""
    return [t for t in _TOKEN.findall(text.lower()) if t not in _STOPWORDS]


def lexical_terms(text: str) -> list[str]:
    """BM25's terms: :func:`tokenize`, Snowball-stemmed ("painted" and "paints" meet)."""
    return list(_STEMMER.stemWords(tokenize(text)))


def top_positions(scores: Scores, count: int) -> list[int]:
    """Positions of the ``count`` highest scores, best first (argpartition, then sort)."""
    count = min(count, scores.shape[0])
    if count <= 0:
        return []
    part = np.argpartition(-scores, count - 1)[:count]
    return [int(i) for i in part[np.argsort(-scores[part], kind="stable")]]


_STOPWORDS = frozenset(bm25s.stopwords.STOPWORDS_EN)
_STEMMER = Stemmer.Stemmer("english")  # PyStemmer: the stemmer bm25s recommends
