"""Choices: the user picked one of the options the assistant offered, and passed over the rest.

A pick is a preference the person never states ("I'll go with the Westin. The others seem
a bit too lively for my taste."): PrefEval's choice-based form (Zhao et al. 2025, arXiv
2502.09597) reveals preferences only this way. The session's turns are read in order;
an assistant turn that offers two or more options followed by a user turn that selects
one of them is a :class:`Choice`. It is stored as a persona attribute (category
``choices``) whose stance is explicit (models.stance): ``prefers`` the chosen option,
``avoids`` each option passed over, plus whatever stance the reply states in its own
words, with "the other options" read as the options passed over.

Rules only (no language model), general English: options are a numbered or bulleted
list, or a sentence's items joined by commas and "or"; a selection is a reply with a
choosing verb ("go with", "choose", "sounds good", ...) or "option N", and the chosen
option is the one whose content words the reply names most (PyStemmer stems,
models.stance_mentions).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from client.memory import Turn
from client.profile import Profile
from models.stance import Stance, StanceClause, parse_stance
from models.stance_mentions import content_stems

CHOICES = "choices"
_NUMBERED = re.compile(r"(?:^|(?<=\s))(?:\d{1,2}[.)]|[-*\u2022])\s+(?=[A-Za-z\"'])", re.M)
_SUFFIX_NUMBER = re.compile(r"\s*\(\d{1,2}\)")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_LEAD_IN = re.compile(
    r"^(?:there are|here are|these are)\b|\b(?:several|many|some|a few|few|great|good)\s+"
    r"(?:\w+\s+)?(?:options|ways|ideas|choices|approaches|resources|alternatives)\b",
    re.IGNORECASE,
)
_LEAD_WORDS = re.compile(
    r"^(?:(?:you|we) (?:could|can|might|may) (?:also )?(?:try|consider)?:?\s*|alternatively,?\s*"
    r"|(?:how about|what about|maybe|or)\s+)+",
    re.IGNORECASE,
)
_ITEM_JOIN = re.compile(r"(?:,\s*|\s+)or\s+|;\s+|,\s+(?=(?:a|an|the|some)\s)|\?\s+")
_SELECTING = re.compile(
    r"\b(?:go(?:ing)? (?:with|for)|choose|chose|pick|take|opt for|sounds? (?:good|great|"
    r"perfect|intriguing|interesting|ideal|lovely|best|right|like)|(?:is|would be|seems?) "
    r"(?:the )?(?:best|most|perfect|ideal|right)|let's (?:do|try|go)|i'd (?:prefer|like)|"
    r"i prefer|i like)\b"
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4}
_OPTION_NUMBER = re.compile(r"\b(?:option|number|choice|no\.?)\s*#?(\d{1,2})\b")
_ORDINAL = re.compile(r"\bthe (first|second|third|fourth|fifth|last) (?:one|option)\b")
# "the other options", "the others", "the rest": the options passed over.
_OTHERS = re.compile(r"^(?:the )?(?:other|others|rest|remaining)(?: \w+)?(?: options?| ones?)?$")
_OPTION_WORD = re.compile(r"\s+(?:options?|ones?|choices?)$")
_SPEAKER_WORDS = content_stems("i ll i'd i'm me we us think will would option one it")
# A chosen option must name at least this share of its content words in the reply.
MIN_SHARE = 0.3


@dataclass(frozen=True)
class Choice:
    """One pick: what was asked, the chosen option, the options passed over, and the
    stance the reply states in its own words."""

    query: str
    chosen: str
    rejected: tuple[str, ...]
    stated: tuple[StanceClause, ...] = ()

    def clauses(self) -> tuple[StanceClause, ...]:
        """prefers the chosen option, avoids each one passed over, then the stated stance."""
        picked = [StanceClause(Stance.PREFERS, self.chosen)]
        passed = [StanceClause(Stance.AVOIDS, r) for r in self.rejected]
        return tuple(dict.fromkeys([*picked, *passed, *self.stated]))

    def text(self) -> str:
        """The choice in words, as the persona and the memory keep it."""
        passed = "; ".join(self.rejected)
        return f"chose: {self.chosen} | passed over: {passed}"


def offered_options(text: str) -> list[str]:
    """The options an assistant turn offers: a numbered or bulleted list when there is
    one (the text before the first marker is the lead-in), items numbered after
    themselves ("... (1), ... (2)"), else the items of its sentences joined by commas /
    "or" (lead-in sentences, "There are several options ...", left out); [] when fewer
    than two."""
    numbered = _NUMBERED.split(text)
    suffixed = _SUFFIX_NUMBER.split(text)
    if len(numbered) >= 3:
        options = [_clean(part) for part in numbered[1:]]
    elif len(suffixed) >= 3:
        options = [_clean(_ITEM_JOIN.split(_SENTENCE.split(p)[-1])[-1]) for p in suffixed[:-1]]
    else:
        sentences = [s for s in _SENTENCE.split(text) if not _LEAD_IN.search(s)]
        options = [_clean(p) for s in sentences for p in _ITEM_JOIN.split(s)]
    options = [o for o in options if len(content_stems(o)) >= 2]
    return options if len(options) >= 2 else []


def _clean(option: str) -> str:
    return _LEAD_WORDS.sub("", option.strip()).strip(" ,.;:").strip()


def chosen_option(reply: str, options: Sequence[str]) -> int | None:
    """Index of the option ``reply`` selects, or None when it selects none clearly."""
    lowered = reply.lower()
    numbered = _OPTION_NUMBER.search(lowered)
    if numbered and 1 <= int(numbered.group(1)) <= len(options):
        return int(numbered.group(1)) - 1
    ordinal = _ORDINAL.search(lowered)
    if ordinal:
        word = ordinal.group(1)
        return len(options) - 1 if word == "last" else min(_ORDINALS[word], len(options) - 1)
    said = _named_words(_SENTENCE.split(reply)[0])
    named = [len(content_stems(o) & said) for o in options]
    best = max(range(len(options)), key=lambda i: named[i])
    if named[best] == 0 or named.count(named[best]) > 1 or lowered.rstrip().endswith("?"):
        return None
    # The pick is named by most of the reply's words ("I'll go with Tetris") or by most of
    # the option's; without a choosing verb the reply must name it more fully to count.
    share = max(named[best] / len(said), named[best] / len(content_stems(options[best])))
    floor = MIN_SHARE if _SELECTING.search(lowered) else 2 * MIN_SHARE
    return best if share >= floor else None


def _named_words(sentence: str) -> frozenset[str]:
    """Content stems of a selecting sentence without the choosing verb and the speaker
    ("I think I'll go with the Westin" -> {westin})."""
    return content_stems(_SELECTING.sub(" ", sentence.lower())) - _SPEAKER_WORDS


def choice_in(offer: str, reply: str, query: str = "") -> Choice | None:
    """The choice ``reply`` makes among the options ``offer`` lists, or None."""
    options = offered_options(offer)
    index = chosen_option(reply, options) if options else None
    if index is None:
        return None
    chosen = options[index]
    # An item that shares most of its words with the pick is part of it, not passed over
    # (a comma inside the chosen option can cut it in two).
    said = content_stems(reply) | content_stems(chosen)
    rejected = tuple(
        o for i, o in enumerate(options) if i != index and _share(o, said) < MIN_SHARE * 2
    )
    return Choice(query, chosen, rejected, stated_stance(reply, rejected))


def _share(option: str, said: frozenset[str]) -> float:
    words = content_stems(option)
    return len(words & said) / len(words)


def stated_stance(reply: str, rejected: Sequence[str]) -> tuple[StanceClause, ...]:
    """The stance clauses of the reply's own words; "the other options" stands for the
    options passed over (already avoided), "the leather options" for "leather"."""
    clauses = []
    for clause in parse_stance(reply):
        thing = _OPTION_WORD.sub("", clause.object)
        if _OTHERS.match(clause.object) or _OTHERS.match(thing) or not thing:
            continue
        clauses.append(replace(clause, object=thing))
    return tuple(clauses) if rejected or clauses else ()


def choices_in(turns: Sequence[Turn]) -> list[Choice]:
    """Every choice in a session: an assistant turn with options, then the user's pick."""
    found = []
    for before, offer, reply in zip([None, *turns], turns, turns[1:], strict=False):
        if offer.role != "assistant" or reply.role != "user":
            continue
        query = before.text if before is not None and before.role == "user" else ""
        choice = choice_in(offer.text, reply.text, query)
        if choice is not None:
            found.append(choice)
    return found


def remember_choices(profile: Profile, choices: Sequence[Choice], *, at: float) -> int:
    """Store each choice as a ``choices`` persona attribute with its explicit stance;
    returns how many were stored (the same query asked again keeps the newer pick, the
    older one in the attribute's history)."""
    for choice in choices:
        name = " ".join(choice.query.lower().split())[:128] or choice.chosen.lower()[:128]
        with profile.store.transaction().write():
            stored = profile.persona.observe(CHOICES, name, choice.text(), confidence=0.7, at=at)
            profile.persona.put(replace(stored, stance=choice.clauses()))
    return len(choices)
