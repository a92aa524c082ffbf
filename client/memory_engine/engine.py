"""The memory engine: one object the chat client, the simulated devices and the benchmarks
call the same way.

Writing: :meth:`MemoryEngine.add_turn` during a session, :meth:`end_session` at its end
(long-term items, links, summary, persona schedule). Reading: :meth:`retrieve` (search,
rerank, validate, with a trace) and :meth:`build_prompt` (sections within a budget).
The engine decrypts the long-term items into an in-memory index when it is created and
keeps that index in step with every write and forget; nothing it holds is written to
disk unsealed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from client.embedding.protocol import Embedder, Vectors
from client.memory import Turn
from client.memory_engine.choices import choices_in, remember_choices
from client.memory_engine.config import EngineConfig
from client.memory_engine.disclosure import DisclosureExtractor, RuleExtractor, statement_of
from client.memory_engine.index import MemoryIndex
from client.memory_engine.loading import load_index
from client.memory_engine.persona_learning import apply_facts, pending_facts
from client.memory_engine.prompt import AppProfile, Prompt, assemble
from client.memory_engine.rerank import CandidateOrder, FeatureHead
from client.memory_engine.retrieval import ALL_STAGES, Candidate, Stages, query_vectors, search
from client.memory_engine.sealed_index import save_search_index
from client.memory_engine.summary import ExtractiveSummariser, Summariser
from client.memory_engine.tokens import TokenCounter, WordPieceCounter
from client.memory_engine.validator import TraceEntry, validate
from client.memory_engine.writer import Written, write_facts, write_session
from client.persona import PersonaAttribute
from client.profile import Forgotten, Profile
from client.records import now
from models.stance_stage import is_request
from protocol.persona_schema import STATEMENTS


@dataclass(frozen=True, kw_only=True)
class Retrieval:
    """What :meth:`MemoryEngine.retrieve` found: the kept memories and every decision."""

    memories: tuple[Candidate, ...]
    trace: tuple[TraceEntry, ...]


@dataclass(frozen=True, kw_only=True)
class SessionReport:
    written: Written
    sessions_done: int
    persona_updated: bool  # the k-session update ran at this session's end
    persona_changes: int  # attributes whose value changed (scheduled update or a change)


class MemoryEngine:
    """The engine over one unlocked :class:`~client.profile.Profile`."""

    def __init__(
        self,
        profile: Profile,
        embedder: Embedder,
        *,
        config: EngineConfig | None = None,
        extractor: DisclosureExtractor | None = None,
        summariser: Summariser | None = None,
        counter: TokenCounter | None = None,
        head: FeatureHead | None = None,
    ) -> None:
        self.profile = profile
        self.embedder = embedder
        self.config = config or EngineConfig()
        self.counter = counter or WordPieceCounter()
        self.extractor = extractor or RuleExtractor()
        self.summariser = summariser or ExtractiveSummariser(embedder, self.counter)
        self.head = head or FeatureHead.prior()
        # Set by the chat once the person's own head is trained (client.chat.head_order).
        self.order: CandidateOrder | None = None
        # Decrypted once, into memory only; unchanged items come from the sealed snapshot.
        self.index: MemoryIndex = load_index(profile.store, embedder.dimension)
        self._persona_cache: tuple[list[PersonaAttribute], Vectors] | None = None

    # --- writing ------------------------------------------------------------------------
    def add_turn(
        self,
        session_id: str,
        text: str,
        *,
        role: str = "user",
        speaker: str = "",
        at: float | None = None,
    ) -> Turn:
        """Append one turn to the short-term ring (sealed)."""
        turn = Turn(session_id=session_id, role=role, text=text, speaker=speaker, at=at or now())
        return self.profile.memory.add_turn(turn)

    def end_session(self, session_id: str) -> SessionReport:
        """Write the session's long-term items, links and summary; run the persona schedule."""
        turns = [t for t in self.profile.memory.recent_turns() if t.session_id == session_id]
        written = write_session(
            self.profile,
            self.index,
            turns,
            embedder=self.embedder,
            extractor=self.extractor,
            summariser=self.summariser,
            config=self.config,
        )
        # A pick among offered options is a preference (client.memory_engine.choices).
        remember_choices(
            self.profile, choices_in(turns), at=max((t.at for t in turns), default=0.0)
        )
        sessions_done = len(self.profile.memory.summaries())
        due = sessions_done > 0 and sessions_done % self.config.persona_every_k_sessions == 0
        to_apply = pending_facts(self.profile, self.index, None if due else set(written.changes))
        changes = apply_facts(self.profile, self.index, to_apply)
        self._persona_cache = None
        return SessionReport(
            written=written,
            sessions_done=sessions_done,
            persona_updated=due,
            persona_changes=changes,
        )

    def remember(self, text: str, *, at: float | None = None) -> list[str]:
        """An explicit "remember this" (``/remember``): stored and applied to the persona now.

        Returns the ids of the fact items written (a statement the rules cannot map is
        kept in the user's words under ``statements``).
        """
        at = at or now()
        disclosures = self.extractor.extract(text) or [statement_of(text)]
        ids = write_facts(
            self.profile, self.index, disclosures, at=at, embedder=self.embedder, config=self.config
        )
        facts = pending_facts(self.profile, self.index, set(ids))
        apply_facts(self.profile, self.index, facts)
        self._persona_cache = None
        return ids

    def update_persona_now(self) -> int:
        """Apply every pending disclosure now (``/remember``, or a client's own schedule)."""
        changes = apply_facts(self.profile, self.index, pending_facts(self.profile, self.index))
        self._persona_cache = None
        return changes

    def forget(self, item_id: str) -> Forgotten:
        """Crypto-shred one record; a long-term item also leaves every link and the index."""
        forgotten = self.profile.forget_item(item_id)
        if item_id in self.index:
            self.index.remove({item_id})
        self._persona_cache = None
        return forgotten

    def seal_search_index(self) -> bool:
        """Seal the BM25 and approximate indexes into the store, so the next unlock loads
        them instead of building them (client.memory_engine.sealed_index); before locking."""
        return save_search_index(self.profile.store, self.index)

    # --- reading ------------------------------------------------------------------------
    def retrieve(
        self, message: str, *, stages: Stages = ALL_STAGES, rerank: bool = True
    ) -> Retrieval:
        """Memories for ``message``: search, rerank, validate; the trace says why."""
        query, nameless = query_vectors(self.embedder, self.index, message, self.config)
        # The persona feature costs a matrix product per query: only when the head uses it.
        persona_vectors = self._persona()[1] if self.head.uses("persona") else None
        candidates = search(
            self.index, message, query, self.config, stages, persona_vectors, nameless
        )
        if rerank:
            candidates = self.head.rerank(candidates, depth=self.config.rerank_depth)
            if self.order is not None:
                candidates = self.order(message, query, candidates)
        # The stance acts where a ranking acts for the person (a request for a suggestion):
        # a question about what was said ("what did I say about giving up?") needs those
        # memories, and the persona section already carries the avoidance.
        avoided = (
            [
                clause
                for attribute in self.profile.persona.attributes()
                for clause in attribute.clauses
                if clause.stance.negative
            ]
            if is_request(message)
            else []
        )
        kept, trace = validate(
            candidates,
            self.index,
            floor=self.config.relevance_floor,
            top_k=self.config.top_k,
            avoided=avoided,
        )
        return Retrieval(memories=tuple(kept), trace=tuple(trace))

    def build_prompt(
        self, message: str, app: AppProfile, *, recent_turns: int = 10
    ) -> tuple[Prompt, Retrieval]:
        """The prompt for ``message`` in sections, and the retrieval behind it."""
        retrieval = self.retrieve(message)
        recent = [
            f"{t.speaker or t.role}: {t.text}"
            for t in self.profile.memory.recent_turns(recent_turns)
        ]
        prompt = assemble(
            app=app,
            persona_lines=self.persona_lines(message),
            memory_lines=[self.memory_line(c) for c in retrieval.memories],
            recent_turns=recent,
            message=message,
            counter=self.counter,
            budget=self.config.memory_budget,
        )
        return prompt, retrieval

    def memory_line(self, candidate: Candidate) -> str:
        entry = self.index.entry(candidate.id)
        said = f"{entry.speaker or 'the user'} said"
        day = _day(entry.at)
        return f"[{day}] {said}: {entry.text}" if day else f"{said}: {entry.text}"

    def persona_lines(self, message: str) -> list[str]:
        """Persona facts, most related to ``message`` first (so a tight budget keeps those)."""
        return [persona_line(attribute) for attribute, _ in self.ranked_persona(message)]

    def ranked_persona(self, message: str) -> list[tuple[PersonaAttribute, float]]:
        """Persona attributes with their cosine to ``message``, most related first."""
        attributes, vectors = self._persona()
        if not attributes:
            return []
        scores = vectors @ self.embedder.embed([message])[0]
        order = np.argsort(-scores, kind="stable")
        return [(attributes[int(i)], float(scores[int(i)])) for i in order]

    def forget_attribute(self, category: str, name: str) -> Forgotten:
        """Crypto-shred one persona attribute (its history goes with it)."""
        removed = self.profile.persona.forget_attribute(category, name)
        self._persona_cache = None
        return Forgotten(int(removed), "persona_attributes", self.profile.store.shred_residue())

    def _persona(self) -> tuple[list[PersonaAttribute], Vectors]:
        if self._persona_cache is None:
            attributes = self.profile.persona.attributes()
            vectors = self.embedder.embed([persona_line(a) for a in attributes])
            self._persona_cache = (attributes, vectors)
        return self._persona_cache


def persona_line(attribute: PersonaAttribute) -> str:
    if attribute.category == STATEMENTS:
        return str(attribute.value)
    return f"{attribute.category} / {attribute.name}: {attribute.value}"


def _day(at: float) -> str:
    return time.strftime("%d %B %Y", time.gmtime(at)) if at > 0 else ""
