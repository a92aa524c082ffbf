"""Stance of a persona fact or stated preference, parsed from its words (issue 13).

A fact says what a person likes, prefers, avoids or cannot have; similarity to it is
evidence *for* a candidate only for the first two. Embeddings do not carry that sign
(cos("I avoid spicy food", "a spicy curry") is high), and a stance learned from the fact
embedding stayed at chance on stated preferences (docs/benchmarks.md). So the stance is
read from the sentence, and the *object* of each clause (what is liked or avoided) is
what candidates are compared with.

``parse_stance(text)`` -> clauses ``(stance, object)``:
- ``avoids``: "I avoid / dislike / hate / can't stand X", "X bores me", "I find X boring",
  "not a fan of X", "X is not for me", "rather than X", "over X" after "prefer";
- ``cannot``: allergies, intolerances, phobias, "can't eat X", "X-free diet", and diet
  rules (vegan, vegetarian, halal, kosher, ...: the table ``DIET_EXCLUSIONS``, product
  knowledge of what each diet excludes);
- ``likes`` / ``prefers``: "I love / enjoy X", "I don't mind X" (a negated aversion is
  not an avoidance), "I prefer X"; a liked object's own "without Y" / "no Y" adds
  ``avoids Y`` ("I prefer games without ads").
- indirect aversions, as people mention them in passing: "I've never been a fan of X",
  "X gives me headaches", "X makes me feel sick", "X isn't really my thing", "I don't
  really follow X", "worried about X", "I'd prefer not to X"; what a preferred thing is
  "away from", "doesn't involve" or has "less" of; a reason clause ("..., since I don't
  handle X well") is parsed as a clause of its own.
A fact with no stance cue ("I have two dogs") gives no clause: it stays a plain fact, and
so does a clause whose object is only a pronoun ("I'll look into them"); a diet counts
only when the speaker keeps it ("I'm vegan", not "a trend towards vegan meals").
The cue lists (models.stance_cues) are general English, not taken from any data set; the
indirect forms were written after reading PrefEval's persona-driven development chats
(docs/benchmarks.md says which).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from models.stance_cues import (
    AFTER_CUES,
    AVOID_CUES,
    CANNOT_CUES,
    DIET_EXCLUSIONS,
    FIND_NEGATIVE,
    LEAD,
    LIKE_CUES,
    MEMBERS,
    PREFER_CUES,
    TOO_MUCH,
)


class Stance(StrEnum):
    LIKES = "likes"
    PREFERS = "prefers"
    AVOIDS = "avoids"
    CANNOT = "cannot"

    @property
    def negative(self) -> bool:
        return self in (Stance.AVOIDS, Stance.CANNOT)


@dataclass(frozen=True)
class StanceClause:
    stance: Stance
    object: str

    def to_json(self) -> dict[str, str]:
        return {"stance": self.stance.value, "object": self.object}

    @classmethod
    def from_json(cls, data: dict[str, str]) -> StanceClause:
        try:
            return cls(Stance(data["stance"]), str(data["object"]))
        except (KeyError, ValueError) as error:
            raise ValueError(f"not a stance clause: {data!r}") from error


# "A rather than B" first, "A over B" next, "A to B" last: "to" is the weakest comparative
# ("prefer staying close to home rather than travelling" compares at "rather than").
_OVERS = tuple(
    re.compile(rf"^(.+?)\s+(?:{cue})\s+(.+)$")
    for cue in ("rather than|instead of", "over|more than", "to")
)
_RATHER = re.compile(r"^(.+?)\s+(?:rather than|instead of)\s+(.+)$")
_FREE = re.compile(r"\b([a-z]+(?:[- ][a-z]+)?)-free\b")
_NAMED_ALLERGY = re.compile(
    r"\b(?!an?\b|the\b|severe\b|mild\b|strong\b|serious\b)([a-z]+) "
    r"(?:allergy|allergies|intolerance|intolerant|sensitivity|phobia)\b"
)
# Diets named as such ("I am vegan", "I keep kosher"); the other rows serve "X-free".
_DIETS = (
    *("vegan", "vegetarian", "pescatarian", "halal", "kosher", "keto", "sober", "low-carb"),
    "plant-based",
)
# A diet the person keeps ("I'm a strict vegan", "I follow a kosher diet", "we eat
# plant-based"), not one talked about ("a trend towards plant-based meals").
_HELD_DIET = re.compile(
    r"(?:\b(?:am|'m|are|'re|is|follows?|following|keeps?|keeping|eats?|eating|on|as|stick to|"
    r"prefers?|went|gone|going|turned|became|become|been|adheres? to|adhering to|observes?|"
    r"committed to|maintains?|practi[cs]es?|lives?)\s+(?:an?\s+)?(?:[\w-]+,?\s+){0,2}|"
    r"\b(?:my|our)\s+(?:\w+\s+)?|\bdiet:\s*)(" + "|".join(_DIETS) + r")\b"
)
_WITHOUT = re.compile(
    r"\b(?:without|with no|no|free of|free from|not|never|(?:that )?(?:don't|do not) have|"
    r"(?:that )?lack|away from|far from|"
    # "games that don't involve crafting", "screens with less glare": what a preferred
    # thing leaves out is what the person avoids.
    r"(?:that |which )?(?:don't|do not|doesn't|does not|won't) (?:involve|require|include|"
    r"use|contain|need)|less|fewer|minimal)\s+(?:any\s+)?(?:too much\s+|too many\s+|"
    r"a lot of\s+|much\s+)?"
    r"(?:form of\s+|kind of\s+)?(.+)$"
)
_TAIL = re.compile(
    r"\s*(?:,\s*(?:so|because|as|since|which|and i|i|avoiding|even)\b|"
    r"\band (?:can't|cannot|must|need|have|will|would|find|prefer|avoid|only)\b|"
    r"\b(?:because|due to|as they|as it|since|so that|when|which|whenever|"
    r"for (?:health|ethical|religious|environmental|personal) reasons)\b|"
    r"\s+(?:entirely|completely|altogether|at all|whenever possible|(?:very )?well|myself|"
    r"personally|though|as well)\b).*$"
)
_FILLER = re.compile(
    r"^(?:to\s+|the\s+|any\s+|all\s+|anything\s+|a\s+|an\s+|most\s+|(?:eating|using|doing|"
    r"playing|watching|going to|having|being|wearing|buying|staying (?:at|in)|reading)\s+)+"
)
_SPLIT = re.compile(
    r"(?:[.;!?]\s+|,?\s+but\s+|,?\s+whereas\s+|,?\s+while\s+|,?\s+and\s+(?=i\b|i'm\b)|"
    r",?\s+and\s+(?=(?:also\s+|much\s+|instead\s+|tend to\s+|usually\s+|often\s+)?"
    r"(?:prefer|love|enjoy|like|would rather|want)\b)|"
    r",?\s+and\s+(?=(?:must\s+|have to\s+|need to\s+|so\s+|therefore\s+)?(?:avoid|cannot|can't|"
    r"only|never|don't|stay)\b)|,?\s+so\s+(?=i\b)|,\s+(?=avoiding\b)|"
    # "..., since I don't handle spicy food well": the reason states a stance of its own.
    r",?\s+(?:since|because|due to(?= my\b))\s+|,?\s+as\s+(?=(?:i|i'm|i've|they|it|those|these)\b))"
)


def parse_stance(text: str) -> tuple[StanceClause, ...]:
    """The stance clauses of one fact, in order; () when it states no stance."""
    normal = text.lower().replace("\u2019", "'").strip()
    structured = _attribute_form(normal)
    if structured is not None:
        return structured
    clauses: list[StanceClause] = []
    for part in _SPLIT.split(normal):
        clauses.extend(_clause_stances(part.strip(" .")))
    return tuple(dict.fromkeys(c for c in clauses if c.object and c.object not in _PRONOUNS))


# An object that is only a pronoun ("I'll look into them") names nothing to compare with.
_PRONOUNS = frozenset(
    {"it", "them", "that", "this", "those", "these", "they", "one", "ones", "something"}
)


# A structured persona attribute reads "name: value" (client.persona.fact_text), as the
# memory engine's disclosure rules write them: "olives: dislikes", "diet: no meat".
_ATTRIBUTE = re.compile(r"^([a-z][a-z' -]*): (.+)$")
_LIKING_VALUES = frozenset({"likes", "loves", "enjoys", "prefers"})
_AVOIDING_VALUES = frozenset({"dislikes", "hates", "avoids"})


def _attribute_form(text: str) -> tuple[StanceClause, ...] | None:
    """The stance of a "name: value" attribute, or None when ``text`` is not one."""
    match = _ATTRIBUTE.match(text.strip(" ."))
    if match is None:
        return None
    name, value = match.group(1).strip(), match.group(2).strip()
    if value in _LIKING_VALUES:
        return (StanceClause(Stance.LIKES, name),)
    if value in _AVOIDING_VALUES:
        return (StanceClause(Stance.AVOIDS, name),)
    if name.startswith(("favourite ", "favorite ")):
        return (StanceClause(Stance.LIKES, value),)
    if name == "diet" and value.startswith("no "):
        return (StanceClause(Stance.CANNOT, _object(value[3:])),)
    return None


def _clause_stances(part: str) -> list[StanceClause]:
    found = _diet_rules(part)
    for pattern, stance in (
        (CANNOT_CUES, Stance.CANNOT),
        (_LIKE_CUES_NEGATED, Stance.LIKES),
        (AVOID_CUES, Stance.AVOIDS),
    ):
        match = re.search(rf"\b(?:{pattern})\b\s*(.*)$", part)
        if match:
            return [*found, StanceClause(stance, _object(match.group(1)))]
    match = re.search(FIND_NEGATIVE, part) or re.search(rf"^{LEAD}(.+?)\s+(?:{AFTER_CUES})", part)
    if match:
        thing = next(g for g in match.groups() if g)
        return [*found, StanceClause(Stance.AVOIDS, _object(thing))]
    match = TOO_MUCH.search(part)
    if match:
        return [*found, StanceClause(Stance.AVOIDS, _object(match.group(1)))]
    match = re.search(rf"\b(?:{PREFER_CUES})\b\s*(.*)$", part)
    if match:
        return found + _preference(match.group(1), Stance.PREFERS)
    match = re.search(rf"\b(?:{LIKE_CUES})\b\s*(.*)$", part)
    if match:
        return found + _preference(match.group(1), Stance.LIKES)
    rather = _RATHER.match(part)
    if rather:
        return found + _preference(part, Stance.PREFERS)
    return found


# "I don't mind X" before the avoidance cues, so that "don't" is not read as one.
_LIKE_CUES_NEGATED = r"(?:do not|don't|wouldn't|would not) mind|(?:am |'m )?(?:fine|ok|okay) with"


def _preference(rest: str, stance: Stance) -> list[StanceClause]:
    """``A over / rather than B`` -> prefers A, avoids B; ``A without B`` -> also avoids B."""
    chosen, avoided = rest, ""
    patterns = _OVERS if stance is Stance.PREFERS else (_RATHER,)
    over = next((m for m in (p.match(rest) for p in patterns) if m), None)
    if over:
        chosen, avoided = over.group(1), over.group(2)
    clauses = []
    without = _WITHOUT.search(chosen)
    if without:
        clauses.append(StanceClause(Stance.AVOIDS, _object(without.group(1))))
    clauses.insert(0, StanceClause(stance, _object(chosen)))
    if avoided:
        clauses.append(StanceClause(Stance.AVOIDS, _object(avoided)))
    return clauses


def _diet_rules(part: str) -> list[StanceClause]:
    """``X-free`` and named diets: what the person cannot have (or avoids, without a
    diet / allergy word)."""
    strict = re.search(r"\b(?:diet|allerg\w*|intoleran\w*|celiac|coeliac|strict\w*|must)\b", part)
    clauses = []
    for match in _FREE.finditer(part):
        thing = match.group(1).split()[-1]
        clauses.append(
            StanceClause(
                Stance.CANNOT if strict else Stance.AVOIDS, DIET_EXCLUSIONS.get(thing, thing)
            )
        )
    for match in _NAMED_ALLERGY.finditer(part):
        clauses.append(
            StanceClause(Stance.CANNOT, DIET_EXCLUSIONS.get(match.group(1), match.group(1)))
        )
    clauses.extend(
        StanceClause(Stance.CANNOT, DIET_EXCLUSIONS[m.group(1)]) for m in _HELD_DIET.finditer(part)
    )
    return clauses


def _object(text: str) -> str:
    """The thing a cue points at: fillers and trailing reasons dropped."""
    text = _TAIL.sub("", text.strip())
    text = _FILLER.sub("", text.strip())
    return text.strip(" .,;:!?\"'")


def object_items(thing: str) -> list[str]:
    """An object as comparable items: a list is split ("grains, legumes and pasta"), and
    a general word adds what it covers (``MEMBERS``: "dairy" -> milk, cheese, ...)."""
    parts = [p.strip() for p in re.split(r",|\band\b|\bor\b|\bincluding\b", thing)]
    found = [p for p in parts if p] or [thing]
    words = set(re.findall(r"[a-z]+(?:-[a-z]+)?", thing.lower()))
    words |= {w.rsplit("-", 1)[-1] for w in words if "-" in w}
    for word in sorted(words):
        members = MEMBERS.get(word) or MEMBERS.get(word.removesuffix("s"))
        if members:
            found.extend(m.strip() for m in members.split(","))
    return list(dict.fromkeys(found))
