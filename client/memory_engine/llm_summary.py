"""Session summaries written by the configured language model, within the token budget.

:class:`LlmSummariser` keeps the :class:`~client.memory_engine.summary.Summariser`
contract. The budget is stated in the instruction and then enforced here with the
engine's :class:`~client.memory_engine.tokens.TokenCounter`: an answer over budget keeps
its leading whole sentences that fit. Whenever the model's answer cannot be used (server
error, timeout, no model, an empty answer, or no whole sentence within the budget) the
offline summariser writes the summary instead and :attr:`LlmSummariser.last` says why,
so a session is never left without one.

What the server receives: the fixed instruction below and the user's own lines of this
session, nothing else (no persona, no memories, no other session); docs/privacy.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from client.llm.errors import ChatBackendError
from client.llm.one_shot import OneShot
from client.memory_engine.disclosure import split_sentences
from client.memory_engine.summary import Summariser
from client.memory_engine.tokens import TokenCounter

log = logging.getLogger(__name__)

INSTRUCTION = (
    "You write the private notes of a chat application about its user. The next message "
    "holds what the user said in one chat session, one line per message. Summarise it in "
    "at most {budget} tokens (about {words} words): plain sentences in the third person "
    '("The user ..."), only what the lines say, nothing added. Reply with the summary only.'
)
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


@dataclass(frozen=True, kw_only=True)
class SummaryOutcome:
    """How the last summary was written.

    Attributes:
        source: ``"llm"`` (the model's, maybe cut to whole sentences) or ``"extractive"``.
        reason: Why the model's answer was not used ("" when it was).
        truncated: True when sentences of the model's answer were cut to fit the budget.
    """

    source: str
    reason: str = ""
    truncated: bool = False


class LlmSummariser:
    """A :class:`Summariser` that asks the model server, with ``fallback`` on any failure."""

    def __init__(self, model: OneShot, fallback: Summariser, counter: TokenCounter) -> None:
        self.model = model
        self.fallback = fallback
        self.counter = counter
        self.last: SummaryOutcome | None = None

    def summarise(self, lines: Sequence[str], budget: int) -> str:
        if budget <= 0 or not any(line.strip() for line in lines):
            self.last = SummaryOutcome(source="extractive", reason="nothing to summarise")
            return self.fallback.summarise(lines, budget)
        try:
            answer, finish = self.model.ask(instruction_for(budget), "\n".join(lines))
        except ChatBackendError as error:
            return self._fall_back(lines, budget, error.user_line)
        text, truncated = fit_sentences(answer, self.counter, budget, cut=finish == "length")
        if not text:
            reason = "the answer was over budget" if answer.strip() else "the answer was empty"
            return self._fall_back(lines, budget, reason)
        self.last = SummaryOutcome(source="llm", truncated=truncated)
        return text

    def _fall_back(self, lines: Sequence[str], budget: int, reason: str) -> str:
        log.log(
            self.model.fallback_log_level(reason), "session summary written offline: %s", reason
        )
        self.last = SummaryOutcome(source="extractive", reason=reason)
        return self.fallback.summarise(lines, budget)


def instruction_for(budget: int) -> str:
    # English runs about 0.75 words a token (OpenAI's tokenizer guide); the words are a
    # hint a model follows more easily than a token count.
    return INSTRUCTION.format(budget=budget, words=max(1, int(budget * 0.75)))


def fit_sentences(
    answer: str, counter: TokenCounter, budget: int, *, cut: bool = False
) -> tuple[str, bool]:
    """The leading whole sentences of ``answer`` within ``budget`` tokens, and whether any
    were left out. ``cut``: the server stopped at its length cap, so an unfinished last
    sentence is dropped."""
    sentences = split_sentences(" ".join(answer.split()))
    if cut and sentences and not _SENTENCE_END.search(sentences[-1]):
        sentences = sentences[:-1]
    kept: list[str] = []
    for sentence in sentences:
        if counter.count(" ".join([*kept, sentence])) > budget:
            break
        kept.append(sentence)
    return " ".join(kept), len(kept) < len(sentences) or cut
