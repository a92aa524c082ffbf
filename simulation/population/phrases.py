"""The phrase bank (``phrasebank.json``): generic turn templates, loaded and checked once.

Leaf-specific phrasing (say, ask, reply, hint) lives with the leaf in ``taxonomy.json``;
this file holds what every leaf shares: explicit-disclosure templates per category, generic
assistant replies, life-story links, preference changes, feedback and small talk. A
template missing its placeholder would silently produce turns that disclose nothing, so
each list is checked for the placeholders its turns need.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from protocol.persona_schema import CATEGORIES

PHRASEBANK_PATH = Path(__file__).with_name("phrasebank.json")
NEUTRAL = "neutral"
_REQUIRED: Mapping[str, tuple[str, ...]] = {
    "reply_generic": ("{cue}",),
    "story": ("{interest}", "{anchor_label}", "{anchor_value}"),
    "change_replace": ("{old}", "{new}"),
    "change_update": ("{said}",),
    "change_drop": ("{old}",),
    "change_add": ("{new}",),
    "feedback_positive": (),
    "feedback_negative": (),
    "feedback_correction": ("{cue}",),
    "small_talk": (),
    "openers": (),
    "emoji": (),
}


class PhraseBankError(ValueError):
    """The phrase bank breaks a rule; the message names the list and the template."""


@dataclass(frozen=True, slots=True)
class PhraseBank:
    """Generic templates by purpose; ``explicit`` is keyed by category plus ``neutral``."""

    explicit: Mapping[str, tuple[str, ...]]
    reply_generic: tuple[str, ...]
    story: tuple[str, ...]
    change_replace: tuple[str, ...]
    change_update: tuple[str, ...]
    change_drop: tuple[str, ...]
    change_add: tuple[str, ...]
    feedback_positive: tuple[str, ...]
    feedback_negative: tuple[str, ...]
    feedback_correction: tuple[str, ...]
    small_talk: tuple[str, ...]
    openers: tuple[str, ...]
    emoji: tuple[str, ...]


@cache
def load_phrasebank(path: Path = PHRASEBANK_PATH) -> PhraseBank:
    """Read and validate a phrase bank file (cached: the default file is read once)."""
    raw: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    explicit = {key: tuple(templates) for key, templates in raw["explicit"].items()}
    _check_explicit(explicit)
    lists: dict[str, tuple[str, ...]] = {}
    for name, slots in _REQUIRED.items():
        templates = tuple(raw.get(name, ()))
        if not templates:
            raise PhraseBankError(f"{name}: needs at least one template")
        for template in templates:
            missing = [slot for slot in slots if slot not in template]
            if missing:
                raise PhraseBankError(f"{name}: {template!r} lacks {missing}")
        lists[name] = templates
    return PhraseBank(explicit=explicit, **lists)


def _check_explicit(explicit: Mapping[str, tuple[str, ...]]) -> None:
    for key in (*CATEGORIES, NEUTRAL):
        templates = explicit.get(key, ())
        if not templates:
            raise PhraseBankError(f"explicit.{key}: needs at least one template")
        for template in templates:
            if "{value}" not in template:
                raise PhraseBankError(f"explicit.{key}: {template!r} lacks {{value}}")
