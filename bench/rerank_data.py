"""The PersonaChat ranking benchmark's data: splits, candidates, extra data and embeddings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from client.embedding.factory import default_embedder
from client.embedding.manifest import default_cache_dir
from models.data.locations import PERSONACHAT_VALID, SPC_VALID, data_dir, require
from models.data.persona_matching import DialogueIndex
from models.data.personachat import load_personachat
from models.data.synthetic_persona_chat import load_spc
from models.embedding_cache import EmbeddingCache
from models.encoded import EmbedFn
from models.extra_data import admissible_training, spc_utterances
from models.ranking_task import RankingExample, Utterance, build_examples
from models.splits import split_users, split_utterances

QUICK_USERS = 250  # --quick: the first 250 users, enough to rank rows in under two minutes


@dataclass
class BenchData:
    train_examples: list[RankingExample]
    later_examples: list[RankingExample]
    unseen_examples: list[RankingExample]
    spc_examples: list[RankingExample]
    embed: EmbedFn
    users: int
    unseen_users: int
    encoder: str

    def persona_prefixed(self, split: str) -> list[RankingExample]:
        """The split's examples with the persona facts written before the context."""
        examples = self.unseen_examples if split == "unseen_users" else self.later_examples
        return [replace(e, context=" ".join(e.persona) + " " + e.context) for e in examples]

    def describe(self) -> dict[str, Any]:
        return {
            "users": self.users,
            "unseen_users": self.unseen_users,
            "encoder": self.encoder,
            "train_examples": len(self.train_examples),
            "spc_train_examples": len(self.spc_examples),
            "later_turn_examples": len(self.later_examples),
            "unseen_user_examples": len(self.unseen_examples),
            "data": str(PERSONACHAT_VALID),
            "candidates": "gold + 19 from other users",
        }


def load_bench_data(
    root: Path | None,
    *,
    users: int | None,
    seed: int,
    with_spc: bool,
    say: Callable[[str], None],
) -> BenchData:
    folder = data_dir(root)
    dialogues = load_personachat(require(folder, PERSONACHAT_VALID), limit=users)
    utterances = [
        Utterance(d.user_id, i, e.context, e.response, d.persona)
        for d in dialogues
        for i, e in enumerate(d.exchanges)
    ]
    split = split_users([d.user_id for d in dialogues], seed=seed)
    splits = split_utterances(utterances, split)
    everyone = [(u.user_id, u.response) for u in utterances]
    spc: list[RankingExample] = []
    if with_spc:
        personas = {d.user_id: d.persona for d in dialogues}
        extra = admissible_training(
            spc_utterances(
                load_spc(require(folder, SPC_VALID)), DialogueIndex(dialogues), personas
            ),
            split,
        )
        spc = build_examples(extra, seed=seed + 4)
    encoder = default_embedder(export_if_missing=True)
    cache = EmbeddingCache(
        default_cache_dir() / "embeddings" / f"{encoder.name}.npz", encoder.name, encoder.embed
    )
    say(f"{len(dialogues)} users, {len(utterances)} exchanges, encoder {encoder.name}")
    return BenchData(
        # Training distractors come from training replies only: no test reply is ever seen.
        train_examples=build_examples(splits.train, seed=seed + 1),
        later_examples=build_examples(splits.later_turns, distractor_pool=everyone, seed=seed + 2),
        unseen_examples=build_examples(
            splits.unseen_users, distractor_pool=everyone, seed=seed + 3
        ),
        spc_examples=spc,
        embed=cache,
        users=len(dialogues),
        unseen_users=len(split.unseen),
        encoder=encoder.name,
    )
