"""The chat's slash commands, each a function of the session that returns lines to print.

They read and write through the memory engine and the profile, so ``/forget`` destroys
the keys of what it removes (crypto-shredding) exactly as ``fedpersona store forget``
does, and ``/good`` / ``/bad`` become sealed training pairs (``client.feedback``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from client.chat.forgetting import forget_matching
from client.chat.head_order import HeadOrder
from client.chat.picking import offer_alternative, record_pick
from client.chat.session import ChatSession
from client.export import export_profile
from client.feedback import memories_used, thumbs
from client.prompt_use import PromptUses
from client.training_pairs import TrainingPair

HELP = """Commands:
  /why              what the last reply used: memories with scores, why each was kept or dropped
  /profile          what is known about you, with the memories it was learned from
  /remember <fact>  store a fact about you now
  /forget <what>    forget every memory, profile fact and turn that mentions <what> (or an id)
  /good, /bad       tell the assistant the last reply was right or wrong (trains your ranking)
  /pick [1|2]       see a second reply to your last message, then pick the better one
  /export <file>    write everything held about you to <file> (readable JSON, owner-only)
  /end              end the session (also Ctrl-D or Ctrl-C at the prompt)
  /help             this list"""


@dataclass(frozen=True)
class CommandResult:
    lines: tuple[str, ...]
    end: bool = False  # the session should end


Handler = Callable[[ChatSession, str], CommandResult]


def _result(*lines: str) -> CommandResult:
    return CommandResult(tuple(lines))


def run_command(session: ChatSession, line: str) -> CommandResult:
    """Run the slash command in ``line`` (which starts with ``/``)."""
    name, _, argument = line.strip().partition(" ")
    handler = _COMMANDS.get(name.lower())
    if handler is None:
        return _result(f"Unknown command {name}; /help lists the commands.")
    return handler(session, argument.strip())


def _why(session: ChatSession, _: str) -> CommandResult:
    last = session.last
    if last is None:
        return _result("No reply yet: /why explains the last reply.")
    lines = [f"For: {last.message!r}"]
    persona = last.prompt.context.persona
    lines.append(f"Profile facts in the prompt ({len(persona)}):")
    lines += [f"  {item.score:.3f}  {item.text}" for item in persona] or ["  none"]
    order = session.engine.order
    if isinstance(order, HeadOrder):
        lines.append(f"Memories ordered by your own head (trained on {order.head.signals} signals)")
    lines.append(f"Memories considered ({len(last.retrieval.trace)}):")
    for entry in last.retrieval.trace:
        mark = "kept   " if entry.kept else "dropped"
        lines.append(f"  {mark} {entry.score:.3f}  {entry.text}  ({entry.id}: {entry.reason})")
    if not last.retrieval.trace:
        lines.append("  none: nothing in memory yet")
    for item in last.prompt.context.dropped:
        lines.append(f"  dropped for the token budget: {item.text}")
    return CommandResult(tuple(lines))


def _profile(session: ChatSession, _: str) -> CommandResult:
    attributes = session.engine.profile.persona.attributes()
    pending = [e for e in session.engine.index.entries() if e.pending and not e.superseded_by]
    every = session.engine.config.persona_every_k_sessions
    waiting = [f"Learned, joining your profile at the next update (every {every} sessions):"]
    waiting += [f"  {entry.text}  ({entry.id})" for entry in pending]
    if not attributes:
        empty = "Your profile is empty: tell me about yourself, or use /remember."
        return CommandResult((empty, *waiting) if pending else (empty,))
    lines = [f"Your profile ({len(attributes)} facts):"]
    for attribute in sorted(attributes, key=lambda a: (a.category, a.name)):
        since = datetime.fromtimestamp(attribute.value_since, tz=UTC).date().isoformat()
        lines.append(
            f"  {attribute.category}.{attribute.name}: {attribute.value}  "
            f"(confidence {attribute.confidence:.2f}, since {since})"
        )
        for memory_id in attribute.evidence:
            item = session.engine.profile.memory.get(memory_id)
            if item is not None:
                lines.append(f"      from {memory_id}: {item.text}")
        if attribute.history:
            lines.append(f"      earlier values: {[p.value for p in attribute.history]}")
    return CommandResult(tuple(lines + waiting) if pending else tuple(lines))


def _remember(session: ChatSession, fact: str) -> CommandResult:
    if not fact:
        return _result("Usage: /remember <fact>, e.g. /remember I am allergic to peanuts")
    ids = session.engine.remember(fact)
    return _result(f"Remembered ({len(ids)} item(s)): {fact}")


def _forget(session: ChatSession, what: str) -> CommandResult:
    if not what:
        return _result("Usage: /forget <words or id>; /why and /profile show what is held.")
    gone = forget_matching(session, what)
    if not gone:
        return _result(f"Nothing held mentions {what!r}; nothing was forgotten.")
    lines = [f"Forgot {len(gone)} record(s) mentioning {what!r}; their keys are destroyed:"]
    return CommandResult(tuple(lines + [f"  {text}" for text in gone]))


def _feedback(session: ChatSession, *, up: bool) -> CommandResult:
    last = session.last
    if last is None or last.rated:
        return _result("No reply to rate (each reply can be rated once).")
    trace = last.retrieval.trace
    pairs: list[TrainingPair]
    if trace:
        texts = [entry.text for entry in trace]
        used = [i for i, entry in enumerate(trace) if entry.kept]
        # Good: the memories the reply used were the right ones; bad: they were not.
        pairs = memories_used(
            last.message, texts, used, () if up else used, session_id=session.session_id
        )
    else:
        pairs = []
    if not pairs:  # no memory was used: the signal is about the reply itself
        pairs = [thumbs(last.message, (last.reply,), 0, up=up, session_id=session.session_id)]
    for pair in pairs:
        session.engine.profile.training.add(pair)
    if not up and last.use_id is not None:  # the person corrected what the reply used
        PromptUses(session.engine.profile.store).mark_corrected(last.use_id)
    session.last = replace(last, rated=True)
    word = "good" if up else "bad"
    return _result(f"Noted as {word}: {len(pairs)} training signal(s) stored, sealed.")


def _export(session: ChatSession, target: str) -> CommandResult:
    if not target:
        return _result("Usage: /export <file>")
    path = Path(target).expanduser()
    document = export_profile(session.engine.profile).document
    # Owner-only: the export is the person's own plaintext, written because they asked.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    return _result(f"Wrote {path} (plaintext, owner-only: keep it safe, delete it when done).")


_COMMANDS: dict[str, Handler] = {
    "/why": _why,
    "/profile": _profile,
    "/remember": _remember,
    "/forget": _forget,
    "/good": lambda session, _: _feedback(session, up=True),
    "/bad": lambda session, _: _feedback(session, up=False),
    "/export": _export,
    "/pick": lambda session, choice: CommandResult(
        tuple(record_pick(session, choice) if choice else offer_alternative(session))
    ),
    "/help": lambda session, _: _result(HELP),
    "/end": lambda session, _: CommandResult((), end=True),
    "/quit": lambda session, _: CommandResult((), end=True),
}
