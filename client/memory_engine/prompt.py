"""Prompt assembly: separate sections with their token counts, within a budget.

The application's role and safety policy come from the application and are kept in
their own sections, never mixed with the user's persona: a persona that says "ignore
the rules" stays data inside the persona section. Persona and memories share one budget
(default 2,000 tokens); the persona goes first because it is compact and always
relevant, and memories fill the rest in rank order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from client.memory_engine.tokens import TokenCounter, fit_to_budget

SECTION_ORDER = ("role", "policy", "persona", "memories", "recent_turns", "message")


@dataclass(frozen=True, kw_only=True)
class AppProfile:
    """What the application says about itself: its role and its safety policy."""

    role: str
    policy: str = ""


@dataclass(frozen=True, kw_only=True)
class Section:
    name: str
    lines: tuple[str, ...]
    tokens: int

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True, kw_only=True)
class Prompt:
    """The assembled prompt, section by section, and what was left out for the budget."""

    sections: tuple[Section, ...]
    budget: int
    dropped_memories: int = 0

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    @property
    def tokens(self) -> dict[str, int]:
        return {s.name: s.tokens for s in self.sections}

    @property
    def total_tokens(self) -> int:
        return sum(s.tokens for s in self.sections)

    def messages(self) -> list[dict[str, str]]:
        """Chat-completions messages: role and policy as system text, the rest as context."""
        system = "\n\n".join(
            f"# {s.name.replace('_', ' ').title()}\n{s.text}"
            for s in self.sections
            if s.lines and s.name != "message"
        )
        message = self.section("message").text
        return [{"role": "system", "content": system}, {"role": "user", "content": message}]


def assemble(
    *,
    app: AppProfile,
    persona_lines: Sequence[str],
    memory_lines: Sequence[str],
    recent_turns: Sequence[str],
    message: str,
    counter: TokenCounter,
    budget: int,
    recent_budget: int = 500,
) -> Prompt:
    """Sections in :data:`SECTION_ORDER`; persona + memories within ``budget`` tokens."""
    persona, persona_tokens = fit_to_budget(list(persona_lines), counter, budget)
    memories, memory_tokens = fit_to_budget(list(memory_lines), counter, budget - persona_tokens)
    # Recent turns: the newest ones that fit, shown oldest first.
    newest, recent_tokens = fit_to_budget(list(reversed(recent_turns)), counter, recent_budget)
    sections = (
        _section("role", [app.role], counter),
        _section("policy", [app.policy] if app.policy else [], counter),
        Section(name="persona", lines=tuple(persona), tokens=persona_tokens),
        Section(name="memories", lines=tuple(memories), tokens=memory_tokens),
        Section(name="recent_turns", lines=tuple(reversed(newest)), tokens=recent_tokens),
        _section("message", [message], counter),
    )
    return Prompt(
        sections=sections, budget=budget, dropped_memories=len(memory_lines) - len(memories)
    )


def _section(name: str, lines: list[str], counter: TokenCounter) -> Section:
    return Section(name=name, lines=tuple(lines), tokens=sum(counter.count(x) for x in lines))
