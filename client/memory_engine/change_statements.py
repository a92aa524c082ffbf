"""Statements of change: "I switched from tea to coffee" names an old and a new value.

A change statement mentions both values, so a memory of the whole sentence is as close
to the old value as to the new one. The extractor splits it: the new side becomes the
fact (what the person holds now), and the old side is kept as the value it replaces,
which persona learning uses to find the attribute that changed ("I've gone off jazz;
hip hop is more my thing now" updates whichever attribute held "jazz").

Rules only (no language model): a phrase that marks the old value ("used to love X",
"gone off X", "instead of X", "not X any more", "switched from X") and one that marks
the new ("switched to Y", "Y is more my thing", "these days it's all about Y", "it's Y
now"). Written from general English phrasings of change, tested on sentences written for
the tests, not on the synthetic population's templates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_VALUE = r"([a-z0-9][a-z0-9' &-]*?)"
_END = r"(?=\s*(?:[.;,!?]|$| now\b| these days\b| lately\b| nowadays\b| any ?more\b| instead\b"
_END += r"| but\b| and i\b| is\b| are\b| has\b| have\b| to\b| this\b| last\b| for\b))"
_OLD = tuple(
    re.compile(pattern + _VALUE + _END)
    for pattern in (
        r"\bi used to (?:love|like|enjoy|prefer|be (?:really )?into|do|play|drink|eat) ",
        r"\b(?:i've |i have )?(?:gone|went) off ",
        r"\b(?:i'm |i am )?(?:no longer|not) (?:so )?(?:much )?(?:into |a fan of )?",
        r"\bnot so much ",
        r"\binstead of ",
        r"\brather than ",
        r"\b(?:switched|moved on|changed|gone|went) from ",
        r"\b(?:i've |i have )?(?:grown |got |gotten )?(?:tired|bored) of ",
        r"\b(?:i've |i have )?(?:given up|gave up|stopped|quit) (?:on )?",
    )
)
_NEW = tuple(
    re.compile(pattern)
    for pattern in (
        rf"\b(?:switched|moved on|changed|gone|went|moved)(?: over)?(?: from [^.;,]+?)? to "
        rf"{_VALUE}{_END}",
        rf"\b(?:it's|it is|i'm|i am) (?:all )?(?:about|into) {_VALUE}{_END}",
        rf"(?:^|[;,]\s*|\bbut |\bnow |\bthese days )(?:it's |it is )?{_VALUE} "
        rf"(?:is|are) (?:more |really )?(?:my|what i) ",
        rf"\b(?:it's|it is|is|are) {_VALUE} (?:now|these days|nowadays)\b",
        rf"(?:^|[:;,]\s*){_VALUE} (?:now|these days|nowadays),? (?:not|instead of|rather than)\b",
        rf"\b(?:now|these days|nowadays),? (?!not\b|instead\b)"
        rf"(?:i (?:prefer|like|love|enjoy|go for) )?{_VALUE}{_END}",
        rf"\bi (?:prefer|like|love|enjoy|go for) {_VALUE} (?:now|these days|nowadays)\b",
    )
)
_LABEL = re.compile(r"\bmy ([a-z][a-z' -]{1,40}?)(?: has changed| is| changed|:)")
_FILLER = re.compile(
    r"^(?:the |a |an |my |some )|(?: now| these days| lately| any ?more)$", re.IGNORECASE
)


@dataclass(frozen=True)
class Change:
    """What a change statement says: the value now, the one it replaced, the label if named."""

    new: str
    old: str
    label: str  # "holiday spot" from "my holiday spot ...", or "" when not named
    clause: str  # the part of the sentence that states the new value, as said


def change_of(sentence: str) -> Change | None:
    """The change ``sentence`` states, or None when it does not name both sides."""
    sentence = sentence.strip()
    lowered = sentence.lower()  # same length: values are cut from ``sentence`` by position
    old = _first(_OLD, lowered, sentence)
    new = _first(_NEW, lowered, sentence)
    if old is None or new is None or _overlap(old[0].lower(), new[0].lower()):
        return None
    label = _LABEL.search(lowered)
    name = label.group(1).strip() if label and not _overlap(label.group(1), new[0].lower()) else ""
    return Change(new=new[0], old=old[0], label=name, clause=_clause(sentence, new[1], old[1]))


def same_value(one: str, other: str) -> bool:
    """Whether two values are the same once case and a leading article are set aside."""
    return _clean(one).casefold() == _clean(other).casefold()


def _first(
    patterns: tuple[re.Pattern[str], ...], lowered: str, sentence: str
) -> tuple[str, int] | None:
    """The first pattern's value (in the speaker's casing) and where it starts."""
    for pattern in patterns:
        match = pattern.search(lowered)
        if match is not None:
            value = _clean(sentence[match.start(1) : match.end(1)])
            if value:
                return value, match.start(1)
    return None


def _clean(value: str) -> str:
    previous = None
    while previous != value:
        previous, value = value, _FILLER.sub("", value.strip()).strip()
    return value


def _overlap(one: str, other: str) -> bool:
    return one in other or other in one


def _clause(sentence: str, new_at: int, old_at: int) -> str:
    """The stretch of ``sentence`` around the new value, cut where the old side starts."""
    base, end = (old_at, len(sentence)) if old_at < new_at else (0, old_at)
    start = base
    for cut in re.finditer(r"[;,]|\bbut\b", sentence[base:end]):
        if base + cut.end() <= new_at:
            start = base + cut.end()
    if old_at < new_at:
        # No cut between the two sides ("switched from tea to coffee"): from the new value.
        return sentence[max(start, new_at) if start == base else start :].strip(" ,;")
    return re.sub(r"(?:,?\s*(?:not|instead of|rather than))\s*$", "", sentence[:end].strip())
