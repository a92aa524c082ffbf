"""``/forget``: crypto-shred everything the store holds that mentions some words.

A fact lives in several places at once: the long-term items written from the turn that
said it, the persona attribute learned from them (and that attribute's earlier values),
the short-term turns of this session (which ``end_session`` would otherwise turn into
memories again), session summaries and training pairs. Forgetting only one of them
would let the fact come back, so every record whose text mentions the words goes, each
with its data key destroyed (``Profile.forget_item``), and the write-ahead log is flushed.
When training signals go, the person's trained head goes with them.
"""

from __future__ import annotations

from client.chat.session import ChatSession
from client.memory_engine.engine import persona_line
from client.persona import PersonaAttribute
from client.personal_head import RECORD_ID as HEAD_RECORD


def forget_matching(session: ChatSession, what: str) -> list[str]:
    """Forget the record whose id is ``what``, else every record mentioning it (any case).

    Returns a description of each record forgotten (empty when nothing matched).
    """
    engine, profile = session.engine, session.engine.profile
    if any(table.contains(what) for table in profile.store.tables.values()):
        engine.forget(what)
        session.last = None
        return [f"record {what}"]
    needle = what.lower()
    gone: list[str] = []
    for attribute in profile.persona.attributes():
        if _mentions(attribute, needle):
            engine.forget_attribute(attribute.category, attribute.name)
            gone.append(f"profile: {persona_line(attribute)}")
    for item in profile.memory.items():
        if needle in item.text.lower():
            engine.forget(item.id)
            gone.append(f"memory {item.id}: {one_line(item.text)}")
    records: list[tuple[str, str, str]] = [
        *(("turn", t.id, t.text) for t in profile.memory.recent_turns()),
        *(("summary", s.id, s.text) for s in profile.memory.summaries()),
    ]
    for kind, record_id, text in records:
        if needle in text.lower():
            engine.forget(record_id)
            gone.append(f"{kind} {record_id}: {one_line(text)}")
    signals = len(gone)
    for pair in profile.training.all():
        if needle in " ".join((pair.context, *pair.candidates)).lower():
            engine.forget(pair.id)
            gone.append(f"training signal {pair.id}")
    if len(gone) > signals and profile.heads.exists():
        # The head was trained on those signals and may hold traces of them: it goes too,
        # and the next step (client.chat.training) retrains without them.
        engine.forget(HEAD_RECORD)
        engine.order = None
        gone.append("your trained ranking (learned partly from them; it will retrain)")
    if gone:
        session.last = None  # /why must not show what was just forgotten
    return gone


def one_line(text: str, limit: int = 100) -> str:
    """``text`` on one line, cut to ``limit`` characters (an offline reply has several)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _mentions(attribute: PersonaAttribute, needle: str) -> bool:
    texts = [persona_line(attribute), *(str(past.value) for past in attribute.history)]
    return any(needle in text.lower() for text in texts)
