"""Token counts for prompt budgets.

The device has no language model's tokenizer, so budgets are counted with the encoder's
WordPiece tokenizer (shipped offline with the model). WordPiece splits English about as
finely as the BPE tokenizers of common chat models (within roughly 10-20%), which is
close enough for a budget; a chat client that knows its model's tokenizer can pass its
own :class:`TokenCounter`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Protocol

from tokenizers import Tokenizer

from client.embedding.source import model_path


class TokenCounter(Protocol):
    """``count(text)``: the number of tokens ``text`` costs in a prompt (0 for empty text)."""

    def count(self, text: str) -> int: ...


class WordPieceCounter:
    """Counts with the bundled all-MiniLM-L6-v2 tokenizer, without truncation."""

    def __init__(self) -> None:
        self._tokenizer = _load_tokenizer()

    def count(self, text: str) -> int:
        if not text:
            return 0
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


class WordCounter:
    """A dependency-free estimate: words and punctuation marks (for tests and fallbacks)."""

    _PATTERN = re.compile(r"\w+|[^\w\s]")

    def count(self, text: str) -> int:
        return len(self._PATTERN.findall(text))


@lru_cache(maxsize=1)
def _load_tokenizer() -> Tokenizer:
    tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def fit_to_budget(texts: list[str], counter: TokenCounter, budget: int) -> tuple[list[str], int]:
    """The longest prefix of ``texts`` whose total count fits ``budget``, and that total."""
    kept: list[str] = []
    used = 0
    for text in texts:
        cost = counter.count(text)
        if used + cost > budget:
            break
        kept.append(text)
        used += cost
    return kept, used
