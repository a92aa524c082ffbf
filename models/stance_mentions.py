"""Does a candidate mention a thing, and is that mention itself negated?

The candidate side of stance (models.stance): "gluten-free bread", "a curry without
chilli", "non-smoking rooms", "no microtransactions" *respect* an avoidance of gluten,
chilli, smoking or microtransactions, although they name it. Sentence embeddings do not
see that (the mention makes the candidate similar to the avoided thing), so a negated
mention is found lexically (stemmed, PyStemmer's English Snowball stemmer, as the memory
index uses) and removed from the text before it is compared densely (``without_negated``).

A word is negated when it carries a negating affix ("-free", "-less", "non-", "anti-")
or follows a negator ("no", "without", "free of", "zero", "not", "never", "avoids")
within a short scope that runs to the next punctuation ("without onions or garlic").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import Stemmer  # type: ignore[import-not-found]

_STEMMER = Stemmer.Stemmer("english")
# Words after a negator that are still in its scope (Chapman et al. 2001's NegEx uses a
# five-token window; here the window closes at punctuation or a contrast word).
NEGATION_SCOPE = 5
_TOKEN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*|[,.;:!?()]", re.IGNORECASE)
_NEGATORS = {
    "no",
    "without",
    "zero",
    "not",
    "never",
    "avoid",
    "avoids",
    "avoiding",
    "skip",
    "minus",
}
_NEGATOR_PAIRS = {("free", "of"), ("free", "from"), ("away", "from"), ("instead", "of")}
_SCOPE_END = {",", ".", ";", ":", "!", "?", "(", ")", "but", "with", "while", "yet", "plus"}
_AFFIX = re.compile(r"^(?:non|anti)-(.+)$|^(.+)-(?:free|less)$")
_STOPWORDS = frozenset(
    (
        *("a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "at", "by"),
        *("from", "any", "all", "some", "my", "your", "their", "its", "is", "are", "be", "that"),
        *("this", "those", "these", "it", "as", "like", "such", "other", "more", "most", "very"),
        "too",
    )
)


@dataclass(frozen=True)
class Mention:
    plain: bool  # some content word of the object appears, not negated
    negated: bool  # some content word of the object appears only under a negation
    share: float = 0.0  # the fraction of the object's content words named plainly


def content_stems(text: str) -> frozenset[str]:
    """Stems of the content words of ``text`` (compound parts split: "nut-free" -> nut, free)."""
    words = [w for token in _TOKEN.findall(text.lower()) for w in token.split("-")]
    return frozenset(_stem(w) for w in words if w.isalnum() and w not in _STOPWORDS)


def negation_marks(text: str) -> list[tuple[str, bool]]:
    """(stem, negated) for every word of ``text`` in order; punctuation dropped."""
    marks: list[tuple[str, bool]] = []
    scope = 0
    tokens = _TOKEN.findall(text.lower())
    for i, token in enumerate(tokens):
        if token in _SCOPE_END:
            scope = 0
            continue
        affix = _AFFIX.match(token)
        if affix:
            marks.extend((_stem(w), True) for w in (affix.group(1) or affix.group(2)).split("-"))
            continue
        pair = (tokens[i - 1], token) if i else ("", "")
        if token in _NEGATORS or pair in _NEGATOR_PAIRS:
            scope = NEGATION_SCOPE
            continue
        marks.extend((_stem(w), scope > 0) for w in token.split("-"))
        scope = max(scope - 1, 0)
    return marks


def mention(candidate: str, thing: str) -> Mention:
    """Whether ``candidate`` names ``thing`` (any of its content stems, a compound ending
    in one counts: "peanuts" names "nuts"), plainly or only under a negation."""
    wanted = content_stems(thing)
    plain = negated = False
    named: set[str] = set()
    for stem, is_negated in negation_marks(candidate):
        hits = {w for w in wanted if _names(stem, w)}
        if hits:
            negated |= is_negated
            plain |= not is_negated
            named |= hits if not is_negated else set()
    return Mention(plain, negated and not plain, len(named) / max(len(wanted), 1))


def without_negated(text: str) -> str:
    """``text`` with negated words and their negators removed, for dense comparison:
    "gluten-free pasta" -> "pasta"."""
    kept = []
    scope = 0
    tokens = _TOKEN.findall(text)
    for i, token in enumerate(tokens):
        low = token.lower()
        if low in _SCOPE_END:
            scope = 0
            kept.append(token)
            continue
        if _AFFIX.match(low):
            continue
        pair = (tokens[i - 1].lower(), low) if i else ("", "")
        if (
            low in _NEGATORS
            or pair in _NEGATOR_PAIRS
            or (low == "free" and i + 1 < len(tokens) and tokens[i + 1].lower() in ("of", "from"))
        ):
            scope = NEGATION_SCOPE
            continue
        if scope == 0:
            kept.append(token)
        scope = max(scope - 1, 0)
    return " ".join(kept)


def _names(stem: str, wanted: str) -> bool:
    return stem == wanted or (
        len(wanted) >= 3 and len(stem) > len(wanted) and stem.endswith(wanted)
    )


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stem: str = _STEMMER.stemWord(word)
    return stem
