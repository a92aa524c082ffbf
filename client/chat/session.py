"""One chat session: per turn retrieve, assemble, generate (streamed) and store, sealed.

Role and policy come from the :class:`~client.app_profiles.AppProfile` only; the persona
and memories the engine retrieves go into their own sections after them
(``client.llm.prompt_builder``), so nothing learned about the person can move or
reword the policy. The user's turn is written before the backend is asked, so a server
that fails mid-reply loses nothing the person said.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from client.app_profiles import AppProfile
from client.chat.head_order import HeadOrder
from client.feedback import memories_used
from client.llm import (
    ChatBackend,
    ChatBackendError,
    ChatPrompt,
    ContextItem,
    TokenBudget,
    build_chat_prompt,
    complete,
)
from client.llm.store_items import memory_item, persona_item, turn_message
from client.memory import Turn
from client.memory_engine import MemoryEngine, Retrieval, SessionReport
from client.personal_head import PersonalHead
from client.prompt_use import PromptUses, use_of
from client.records import new_record_id

# Persona facts below this cosine to the message are left out of the prompt: with a
# large persona they would crowd out memories, and none of them is about this message.
PERSONA_FLOOR = 0.1
MAX_PERSONA_FACTS = 12
# A memory a reply used that the person let stand is a weaker signal than a /good: it
# says only that nothing was wrong enough to correct.
IMPLICIT_WEIGHT = 0.5


@dataclass(frozen=True, kw_only=True)
class TurnOutcome:
    """What one turn produced.

    Attributes:
        text: The reply text shown (for a failed turn, whatever arrived before the failure).
        error: The backend's one-line error, or None when the reply is complete.
        notice: One line to show beside the reply (why it was answered offline), or None.
        offline: True when no language model wrote the reply.
    """

    text: str
    error: str | None = None
    notice: str | None = None
    offline: bool = False


@dataclass(frozen=True, kw_only=True)
class LastTurn:
    """The last answered turn, kept for ``/why``, ``/good``, ``/bad`` and ``/pick``."""

    message: str
    prompt: ChatPrompt
    retrieval: Retrieval
    reply: str
    rated: bool = False
    alternative: str | None = None  # a second reply offered by ``/pick``
    use_id: str | None = None  # its sealed prompt-use record (client.prompt_use)


class ChatSession:
    """A conversation over an unlocked profile's memory engine.

    Args:
        engine: The memory engine over the unlocked profile.
        backend: What writes replies (a server, or the offline backend).
        app: The application profile: role, policy and reply reserve.
        session_id: Id of this session in the store (a fresh one by default).
    """

    def __init__(
        self,
        engine: MemoryEngine,
        backend: ChatBackend,
        app: AppProfile,
        *,
        session_id: str | None = None,
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.app = app
        self.session_id = session_id or f"s-{new_record_id()[:12]}"
        self.last: LastTurn | None = None
        self.turns = 0
        head = engine.profile.heads.load()
        if head is not None:
            engine.order = HeadOrder(head, engine)

    def prompt_for(self, message: str) -> tuple[ChatPrompt, Retrieval]:
        """Retrieve for ``message`` and assemble the prompt fitted to the model's window."""
        retrieval = self.engine.retrieve(message)
        memories = []
        for candidate in retrieval.memories:
            item = self.engine.profile.memory.get(candidate.id)
            if item is not None:
                memories.append(memory_item(item, candidate.score))
        budget = TokenBudget(
            context_length=self.backend.context_length(),
            reply_reserve=self.app.reply_reserve_tokens,
        )
        prompt = build_chat_prompt(
            self.app,
            persona=self._persona_items(message),
            memories=memories,
            recent_turns=[turn_message(t) for t in self._session_turns()],
            user_message=message,
            budget=budget,
        )
        return prompt, retrieval

    def turn(self, message: str, on_text: Callable[[str], object] | None = None) -> TurnOutcome:
        """Answer ``message``, streaming the reply's pieces to ``on_text``.

        A backend failure comes back as ``TurnOutcome.error`` (one line); the user's turn
        stays stored and the session can go on. ``KeyboardInterrupt`` propagates after the
        user's turn is stored: the caller decides what Ctrl-C means.
        """
        self.credit_unrated()
        try:
            prompt, retrieval = self.prompt_for(message)
        except ChatBackendError as error:  # the message alone does not fit the window
            return TurnOutcome(text="", error=error.user_line)
        # Stored before generating: a failing server must not lose what the person said.
        self.engine.add_turn(self.session_id, message)
        self.turns += 1
        try:
            reply = complete(self.backend, prompt, on_text=on_text)
        except ChatBackendError as error:
            return TurnOutcome(text=error.partial_text, error=error.user_line)
        self.engine.add_turn(self.session_id, reply.text, role="assistant")
        self.last = LastTurn(
            message=message,
            prompt=prompt,
            retrieval=retrieval,
            reply=reply.text,
            use_id=self._record_use(prompt),
        )
        return TurnOutcome(text=reply.text, notice=reply.notice, offline=reply.offline)

    def end(self) -> SessionReport | None:
        """Write the session's memories and summary (and the persona every k sessions).

        None when nothing was said: an empty session leaves no summary.
        """
        self.credit_unrated()
        if self.turns == 0:
            return None
        report = self.engine.end_session(self.session_id)
        self.turns = 0
        return report

    def credit_unrated(self) -> int:
        """The last reply's memories as signals, if the person moved on without rating it.

        Only when the retrieval also passed some memories over (with none passed over there
        is no ordering to learn). Returns how many signals were stored.
        """
        last = self.last
        if last is None or last.rated:
            return 0
        self.last = replace(last, rated=True)
        trace = last.retrieval.trace
        used = [i for i, entry in enumerate(trace) if entry.kept]
        if not used or len(used) == len(trace):
            return 0
        texts = [entry.text for entry in trace]
        pairs = memories_used(last.message, texts, used, session_id=self.session_id)
        for pair in pairs:
            self.engine.profile.training.add(replace(pair, weight=IMPLICIT_WEIGHT))
        return len(pairs)

    def use_head(self, head: PersonalHead) -> None:
        """Rank the next turns' memories with ``head`` (just trained)."""
        self.engine.order = HeadOrder(head, self.engine)

    def _record_use(self, prompt: ChatPrompt) -> str | None:
        """Seal what the prompt used of the person (client.prompt_use); nothing if nothing."""
        if not prompt.context.items:
            return None
        use = use_of(prompt.context.items, self.session_id)
        return PromptUses(self.engine.profile.store).record(use).id

    def _session_turns(self) -> list[Turn]:
        turns = self.engine.profile.memory.recent_turns()
        return [t for t in turns if t.session_id == self.session_id]

    def _persona_items(self, message: str) -> list[ContextItem]:
        ranked = self.engine.ranked_persona(message)
        return [
            persona_item(attribute, score)
            for attribute, score in ranked[:MAX_PERSONA_FACTS]
            if score >= PERSONA_FLOOR
        ]
