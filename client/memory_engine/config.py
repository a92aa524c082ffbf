"""The engine's settings, parsed once into a frozen dataclass and checked on construction."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Every knob of the memory engine.

    Attributes:
        persona_every_k_sessions: the persona absorbs pending self-disclosures every k
            finished sessions; explicit statements of change apply at once.
        link_count: links each new long-term item gets to its most related items.
        candidates: how many items dense and lexical search each propose.
        top_k: how many memories survive the rerank and the validator.
        rerank_depth: how many of the first candidates the rerank head reorders (the rest
            keep the search order below them): the head learns from what reached the
            prompt, so it is applied where it was trained (rerank.FeatureHead.rerank).
        relevance_floor: items whose fused relevance falls below this are dropped (the
            validator's trace says so); in [0, 1] of the best candidate's score.
        fusion: ``"convex"`` (cosine + lexical_weight x normalised BM25) or ``"rrf"``.
        lexical_weight: the BM25 share in convex fusion.
        rrf_k: the constant of reciprocal rank fusion (Cormack et al., SIGIR 2009 use 60).
        link_weight: how much of a found item's score its linked items inherit.
        context_weight: share of the fused score of the turn said just before or after an
            item that the item gains (conversational context; a fact: its turn's score).
        speaker_weight: bonus for items said by a person the message names.
        answer_weight: share of the fused score of a turn that asked a question (has a
            "?") that the turn said just after it gains (the answer follows the question).
        date_weight: bonus for items said on (1), near or in the month of (0.5), or in the
            year of (0.25) a calendar date the message names (client.memory_engine.dates).
        session_weight: share of the best fused score among the items of an item's session
            that the item gains (what a question asks about is often said in one session).
        nameless_weight: share of the dense score that is the cosine with the message
            without the names of the people whose words are indexed (the rest: with the
            message as written); "What books has John read?" then finds turns about books,
            not every turn John said, and the speaker bonus says who
            (retrieval.nameless_message). One more query embedding when a name is named.
        signal_pool: how many rows (the best by fused score plus the named speaker and
            date bonuses, with the turns around them) get the context, answer and session
            signals; the rest cannot become candidates. Keeps a query's cost beyond dense
            and lexical scoring proportional to the pool, not to the index; an index no
            larger than the pool is scored whole (retrieval.signal_pool).
        turn_window: embed each turn with the turn before and after it (one vector for
            the exchange), so an answer like "The Minnesota Wolves!" carries the question
            it answers; BM25 still indexes the turn's own words.
        memory_budget: tokens for persona plus memories in the assembled prompt.
        summary_budget: tokens of a session summary.
        store_turns_as_memories: keep every user turn as a long-term (episodic) item, so a
            later question can find what was said verbatim, not only extracted facts.
    """

    persona_every_k_sessions: int = 3
    link_count: int = 5
    candidates: int = 50
    top_k: int = 10
    rerank_depth: int = 30
    relevance_floor: float = 0.05
    fusion: str = "convex"
    # The five shares below were chosen together by leave-one-conversation-out on the
    # LoCoMo dev set (docs/benchmarks.md, "Evidence recall on LoCoMo").
    lexical_weight: float = 0.4
    rrf_k: int = 60
    link_weight: float = 0.5
    context_weight: float = 0.4
    speaker_weight: float = 0.25  # re-chosen with nameless_weight (bench.locomo_tuning)
    answer_weight: float = 0.3
    date_weight: float = 0.8
    session_weight: float = 0.4  # chosen after the five above, with them fixed
    nameless_weight: float = 0.5  # chosen third, leave-one-conversation-out
    signal_pool: int = 1000
    turn_window: bool = True
    memory_budget: int = 2000
    summary_budget: int = 120
    store_turns_as_memories: bool = True

    def __post_init__(self) -> None:
        names = ("persona_every_k_sessions", "candidates", "top_k", "rrf_k", "signal_pool")
        for name in (*names, "rerank_depth"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("link_count", "memory_budget", "summary_budget"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
        if not 0.0 <= self.relevance_floor <= 1.0:
            raise ValueError(f"relevance_floor must be within [0, 1], got {self.relevance_floor}")
        if not 0.0 <= self.nameless_weight <= 1.0:
            raise ValueError(f"nameless_weight must be within [0, 1], got {self.nameless_weight}")
        if self.fusion not in ("convex", "rrf"):
            raise ValueError(f"fusion must be 'convex' or 'rrf', got {self.fusion!r}")
        weights = ("link_weight", "context_weight", "speaker_weight", "lexical_weight")
        for name in (*weights, "answer_weight", "date_weight", "session_weight"):
            if getattr(self, name) < 0.0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)}")
