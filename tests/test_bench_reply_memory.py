"""bench.reply_memory: what each exchange is given comes only from what was said before it."""

from __future__ import annotations

import json

import pytest

from bench import reply_memory
from models.ranking_task import RankingExample

REPLIES = [
    "I keep bees on my roof in Lisbon.",
    "My daughter plays the cello every evening.",
    "I restore old motorbikes on weekends.",
]


def _examples(user: str) -> list[RankingExample]:
    return [
        RankingExample(user, position, f"Tell me more ({position})?", (), (reply, "other"))
        for position, reply in enumerate(REPLIES)
    ]


def test_memories_hold_earlier_replies_only_never_the_one_ranked(onnx_embedder, tmp_path):
    examples = _examples("u1")

    memories, learned = reply_memory.device_views(examples, onnx_embedder, tmp_path, print)

    assert memories[("u1", 0)] == ()
    for position in (1, 2):
        seen = memories[("u1", position)]
        assert seen
        earlier = " ".join(REPLIES[:position])
        assert all(text in earlier for text in seen), (position, seen)
    assert set(learned) == set(memories)


@pytest.mark.slow
def test_reply_memory_bench_writes_every_row(tmp_path, encoder_cache, monkeypatch, capsys):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "reply_memory.json"

    code = reply_memory.main(["--quick", "--users", "10", "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text())
    methods = {(r["method"], r["split"]) for r in report["rows"]}
    for method in (
        "head_central",
        "head_central + memory at test",
        "head_memory",
        "head_memory_only",
        "head_learned_persona",
    ):
        assert {(method, "unseen_users"), (method, "later_turns")} <= methods
    assert report["config"]["memories_per_example"] > 0
    assert "later hits@1" in capsys.readouterr().out
