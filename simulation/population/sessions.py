"""Sessions of turns with ground truth: what each turn depends on, and which reply fits.

A session opens with a greeting and any change scheduled for it, then mixes, in random
order: disclosures (explicit, or implicit through a cue), at most one life-story link,
small talk, and recommendation requests, each followed by feedback on a reply. Every turn
that depends on the persona carries a label, the attribute and value it depends on *at
this session*; a dropped interest is a ``retracts`` label instead, since the persona no
longer has it. Requests about an attribute that changed in this or the previous session
are always included, so each change is followed by a ranking item that tests it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from simulation.population.draws import Draws
from simulation.population.entities import (
    Attribute,
    AttributeRef,
    Change,
    ChangeKind,
    Feedback,
    Ranking,
    Session,
    StoryLink,
    Turn,
    TurnKind,
    apply_changes,
)
from simulation.population.ranking import RankingBuilder
from simulation.population.texts import TurnWriter, UserStyle


@dataclass(frozen=True, kw_only=True)
class SessionShape:
    """Per-session counts (inclusive ranges) and rates; checked on construction."""

    disclosures: tuple[int, int] = (2, 4)
    recommendations: tuple[int, int] = (1, 3)
    small_talk: tuple[int, int] = (0, 2)
    implicit_rate: float = 0.5
    story_rate: float = 0.5
    shown_gold_rate: float = 0.6
    correction_rate: float = 0.5
    ask_disclosed_rate: float = 0.75
    topical_rate: float = 0.5

    def __post_init__(self) -> None:
        for name in ("disclosures", "recommendations", "small_talk"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ValueError(f"{name} must be 0 <= low <= high, got {(low, high)}")
        rates = ("implicit_rate", "story_rate", "shown_gold_rate", "correction_rate")
        for name in (*rates, "ask_disclosed_rate", "topical_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {getattr(self, name)}")


@dataclass
class _UserState:
    """What has been said so far across this user's sessions."""

    disclosed: dict[tuple[str, str], str] = field(default_factory=dict)
    told: set[int] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Block:
    """One planned piece of a session: a disclosure, a story, small talk or a request."""

    kind: TurnKind
    key: tuple[str, str] = ("", "")
    story: int = -1


@dataclass
class _SessionContext:
    index: int
    held: dict[tuple[str, str], Attribute]
    style: UserStyle
    turns: list[Turn] = field(default_factory=list)

    @property
    def values(self) -> dict[tuple[str, str], str]:
        return {key: attribute.value for key, attribute in self.held.items()}


class SessionWriter:
    """Writes all sessions of one user; every choice comes from ``draws``."""

    def __init__(self, writer: TurnWriter, shape: SessionShape) -> None:
        self.writer = writer
        self.rankings = RankingBuilder(writer)
        self.shape = shape
        self._askable = frozenset(leaf.key for leaf in writer.taxonomy.recommendable)

    def sessions(
        self,
        persona: Sequence[Attribute],
        story: Sequence[StoryLink],
        schedule: Sequence[Change],
        count: int,
        draws: Draws,
    ) -> tuple[Session, ...]:
        state = _UserState()
        return tuple(
            self._session(index, persona, story, schedule, state, draws) for index in range(count)
        )

    def _session(
        self,
        index: int,
        persona: Sequence[Attribute],
        story: Sequence[StoryLink],
        schedule: Sequence[Change],
        state: _UserState,
        draws: Draws,
    ) -> Session:
        current = apply_changes(persona, schedule, index)
        context = _SessionContext(index, {a.key: a for a in current}, UserStyle.of(current))
        self._say(context, TurnKind.OPENER, self.writer.opener(draws), draws)
        for change in schedule:
            if change.session == index:
                self._change(context, change, state, draws)
        for block in draws.shuffled(self._plan(context, story, schedule, state, draws)):
            if block.kind is TurnKind.SMALL_TALK:
                self._say(context, block.kind, self.writer.small_talk(draws), draws)
            elif block.kind is TurnKind.STORY:
                self._story(context, story, block.story, state, draws)
            elif block.kind is TurnKind.RECOMMEND:
                self._recommend(context, context.held[block.key], schedule, state, draws)
            else:
                self._disclose(context, context.held[block.key], state, draws)
        return Session(index, tuple(context.turns))

    def _plan(
        self,
        context: _SessionContext,
        story: Sequence[StoryLink],
        schedule: Sequence[Change],
        state: _UserState,
        draws: Draws,
    ) -> list[_Block]:
        """The session's blocks, unordered: what to disclose, tell and ask about."""
        shape = self.shape
        blocks = [_Block(TurnKind.SMALL_TALK)] * draws.between(*shape.small_talk)
        for key in self._disclosures(context, state, draws):
            blocks.append(_Block(TurnKind.EXPLICIT, key))
        untold = [
            i
            for i, link in enumerate(story)
            if i not in state.told and context.held.get(link.interest.key) == link.interest
        ]
        if untold and draws.chance(shape.story_rate):
            blocks.append(_Block(TurnKind.STORY, story=draws.choice(untold)))
        for key in self._requests(context, schedule, state, draws):
            blocks.append(_Block(TurnKind.RECOMMEND, key))
        return blocks

    def _disclosures(
        self, context: _SessionContext, state: _UserState, draws: Draws
    ) -> list[tuple[str, str]]:
        """Attributes to disclose: often ones the user asks about, otherwise ones not yet said.

        People keep coming back to what they care about, so askable attributes may be
        mentioned again; this is also what gives implicit disclosures (only askable leaves
        have cues) a realistic share.
        """
        fresh = [k for k, a in context.held.items() if state.disclosed.get(k) != a.value]
        fresh = fresh or list(context.held)
        askable = [k for k in context.held if k in self._askable]
        chosen: list[tuple[str, str]] = []
        for _ in range(draws.between(*self.shape.disclosures)):
            topical = [k for k in askable if k not in chosen]
            rest = [k for k in fresh if k not in chosen]
            pool = topical if topical and draws.chance(self.shape.topical_rate) else rest
            if not pool:
                break
            chosen.append(draws.choice(pool))
        return chosen

    def _requests(
        self,
        context: _SessionContext,
        schedule: Sequence[Change],
        state: _UserState,
        draws: Draws,
    ) -> list[tuple[str, str]]:
        """Recommendation requests: every fresh change first, then mostly disclosed topics."""
        askable = [k for k in context.held if k in self._askable]
        forced = [
            c.key
            for c in schedule
            if c.new is not None
            and c.session in (context.index - 1, context.index)
            and c.key in askable
        ]
        chosen = list(dict.fromkeys(forced))
        wanted = draws.between(*self.shape.recommendations)
        while len(chosen) < wanted:
            rest = [k for k in askable if k not in chosen]
            if not rest:
                break
            disclosed = [k for k in rest if state.disclosed.get(k) == context.held[k].value]
            pool = disclosed if disclosed and draws.chance(self.shape.ask_disclosed_rate) else rest
            chosen.append(draws.choice(pool))
        return chosen

    def _say(
        self,
        context: _SessionContext,
        kind: TurnKind,
        text: str,
        draws: Draws,
        *,
        label: AttributeRef | None = None,
        retracts: AttributeRef | None = None,
        ranking: Ranking | None = None,
        feedback: Feedback | None = None,
    ) -> None:
        """Append a user turn, written in the user's style, with its ground truth."""
        styled = self.writer.styled(text, context.style, draws)
        turn = Turn(len(context.turns), kind, styled, label, retracts, ranking, feedback)
        context.turns.append(turn)

    def _change(
        self, context: _SessionContext, change: Change, state: _UserState, draws: Draws
    ) -> None:
        text = self.writer.change(change, draws)
        label = context.held[change.key].ref if change.new is not None else None
        retracts = None
        if change.old is not None:
            retracts = AttributeRef(change.category, change.name, change.old)
        if change.kind is ChangeKind.DROP:
            state.disclosed.pop(change.key, None)
        elif change.new is not None:
            state.disclosed[change.key] = change.new
        self._say(context, TurnKind.CHANGE, text, draws, label=label, retracts=retracts)

    def _disclose(
        self, context: _SessionContext, attribute: Attribute, state: _UserState, draws: Draws
    ) -> None:
        text = None
        if draws.chance(self.shape.implicit_rate):
            text = self.writer.implicit(attribute, draws)
        kind = TurnKind.IMPLICIT if text is not None else TurnKind.EXPLICIT
        text = text if text is not None else self.writer.explicit(attribute, draws)
        state.disclosed[attribute.key] = attribute.value
        self._say(context, kind, text, draws, label=attribute.ref)

    def _story(
        self,
        context: _SessionContext,
        story: Sequence[StoryLink],
        index: int,
        state: _UserState,
        draws: Draws,
    ) -> None:
        link = story[index]
        state.told.add(index)
        state.disclosed[link.interest.key] = link.interest.value
        text = self.writer.story(link, draws)
        self._say(context, TurnKind.STORY, text, draws, label=link.interest.ref)

    def _recommend(
        self,
        context: _SessionContext,
        attribute: Attribute,
        schedule: Sequence[Change],
        state: _UserState,
        draws: Draws,
    ) -> None:
        leaf = self.writer.taxonomy.leaf(*attribute.key)
        ranking = self.rankings.build(
            leaf,
            attribute.value,
            stale_value=_stale_value(attribute, schedule, context.index),
            held=context.values,
            disclosed=state.disclosed.get(attribute.key) == attribute.value,
            draws=draws,
        )
        ref = attribute.ref
        ask = self.writer.ask(leaf, draws)
        self._say(context, TurnKind.RECOMMEND, ask, draws, label=ref, ranking=ranking)
        # The assistant showed the gold reply, or another answer to the same request.
        liked = draws.chance(self.shape.shown_gold_rate)
        wrong = [i for i in ranking.topical if i != ranking.gold]
        shown = ranking.gold if liked or not wrong else draws.choice(wrong)
        liked = shown == ranking.gold
        cue = None
        if not liked and draws.chance(self.shape.correction_rate):
            cue = draws.choice(leaf.spec(attribute.value).cues)
            state.disclosed[attribute.key] = attribute.value
        text = self.writer.feedback(liked, cue, draws)
        feedback = Feedback(shown, liked)
        self._say(context, TurnKind.FEEDBACK, text, draws, label=ref, feedback=feedback)


def _stale_value(attribute: Attribute, schedule: Sequence[Change], session: int) -> str | None:
    """The value this attribute had before a replacement that has already happened."""
    for change in reversed(schedule):
        replaced = change.kind is ChangeKind.REPLACE and change.session <= session
        if replaced and change.key == attribute.key:
            return change.old
    return None
