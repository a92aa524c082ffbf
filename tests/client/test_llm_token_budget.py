"""Token counting and the budget arithmetic."""

from __future__ import annotations

from importlib import resources

import pytest

from client.llm import CharEstimateCounter, TokenBudget, TokenCounter, WordPieceCounter
from client.llm.token_budget import PER_MESSAGE_OVERHEAD, Trimmable, count_messages, fit_to_budget


def test_char_estimate_counts_ascii_by_four_and_other_characters_whole() -> None:
    counter = CharEstimateCounter()
    assert counter.count("") == 0
    assert counter.count("abcd") == 1
    assert counter.count("abcde") == 2
    assert counter.count("我想预订") == 4
    assert counter.count("café") == 2  # "caf" -> 1, "é" -> 1
    assert isinstance(counter, TokenCounter)


def test_char_estimate_is_within_its_stated_margin_on_prose() -> None:
    # The shipped profiles are English prose like the prompts the estimate is used for.
    folder = resources.files("client.app_profiles").joinpath("builtin")
    text = "\n".join(
        f.read_text(encoding="utf-8") for f in folder.iterdir() if f.name.endswith(".toml")
    )
    estimate, real = CharEstimateCounter().count(text), WordPieceCounter().count(text)
    assert 0.75 <= estimate / real <= 1.25, (estimate, real)


def test_wordpiece_counter_neither_pads_nor_truncates() -> None:
    counter = WordPieceCounter()
    assert counter.count("") == 0
    assert counter.count("hello world") == 2
    assert counter.count("word " * 600) == 600  # past the encoder's 256-token limit
    assert counter.count("我想预订两晚的酒店房间。") == CharEstimateCounter().count(
        "我想预订两晚的酒店房间。"
    )


def test_message_overhead_is_added_per_message() -> None:
    assert (
        count_messages(CharEstimateCounter(), ["abcd", "abcdefgh"]) == 3 + 2 * PER_MESSAGE_OVERHEAD
    )


@pytest.mark.parametrize(
    ("budget", "limit"),
    [
        (TokenBudget(context_length=4096, reply_reserve=512, safety_margin=0.0), 3584),
        (TokenBudget(context_length=4096, reply_reserve=512), 2867),  # 3584 / 1.25
        (TokenBudget(context_length=500, reply_reserve=600), 0),
    ],
)
def test_prompt_limit_leaves_the_reply_reserve_and_the_margin(
    budget: TokenBudget, limit: int
) -> None:
    assert budget.prompt_limit == limit


@pytest.mark.parametrize(
    "settings",
    [
        {"context_length": 0, "reply_reserve": 1},
        {"context_length": 10, "reply_reserve": -1},
        {"context_length": 10, "reply_reserve": 1, "safety_margin": 1.0},
        {"context_length": 10, "reply_reserve": 1, "keep_recent_turns": -1},
    ],
)
def test_bad_budgets_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"context_length|reply_reserve|safety_margin|keep_recent"):
        TokenBudget(**settings)  # type: ignore[arg-type]


def test_fit_tries_turns_then_memories_then_persona_then_the_last_turns() -> None:
    parts = Trimmable(persona=("p1", "p2"), memories=("m1", "m2"), turns=("t1", "t2", "t3"))
    tried: list[tuple[tuple[str, ...], ...]] = []

    def cost(kept: Trimmable[str, str]) -> int:
        tried.append((kept.persona, kept.memories, kept.turns))
        return 10 + 10 * (len(kept.persona) + len(kept.memories) + len(kept.turns))

    budget = TokenBudget(context_length=10, reply_reserve=0, safety_margin=0.0, keep_recent_turns=1)
    result = fit_to_budget(parts, cost, budget)
    assert result == (Trimmable(persona=(), memories=(), turns=()), 10)
    assert [t[2] for t in tried[:3]] == [("t1", "t2", "t3"), ("t2", "t3"), ("t3",)]
    assert [t[1] for t in tried[3:5]] == [("m1",), ()]
    assert [t[0] for t in tried[5:7]] == [("p1",), ()]
    assert tried[-1] == ((), (), ())
    too_small = TokenBudget(context_length=9, reply_reserve=0, safety_margin=0.0)
    assert fit_to_budget(parts, cost, too_small) is None
