"""The shipped public start head (models.public_head): what it is, and loading it safely."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.public_head import load_public_head, read_public_head, write_public_head
from models.reply_training import REPLY_PREFIX, released_mask, released_size
from models.reranking_head import HeadConfig
from models.robust_head import OVERLAP_HEAD, REPLY_HEAD, REPLY_RANK
from models.training import new_head


def test_the_shipped_head_is_the_reply_head_with_only_its_term_trained() -> None:
    public = load_public_head()
    start = new_head(OVERLAP_HEAD, seed=0)

    trained = public.state_dict()
    untrained = start.state_dict()

    # The term weighs shared words too, that weight at zero: each federation learns it.
    assert public.config == OVERLAP_HEAD
    assert public.reply_match.overlap_weight is not None
    assert public.reply_match.overlap_weight.item() == 0.0
    term = [name for name in trained if name.startswith(REPLY_PREFIX)]
    assert term, "the reply head has a context-to-reply term"
    for name, value in trained.items():
        if name in term:
            continue
        assert np.array_equal(value.numpy(), untrained[name].numpy()), name
    # The term's reply side starts at zero: a trained term is not all zero.
    assert any(np.abs(trained[name].numpy()).sum() > 0 for name in term)
    extra = read_public_head().extra
    assert extra["built_by"] == "python -m bench.public_head"
    assert extra["best_epoch"] >= 1


def test_a_missing_public_head_says_how_to_rebuild_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"bench\.public_head"):
        load_public_head(tmp_path / "absent.json")


def test_a_checkpoint_of_another_head_is_not_taken_for_the_public_head(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    write_public_head(path, new_head(HeadConfig(), seed=0), {})

    with pytest.raises(ValueError, match="another shape"):
        load_public_head(path)


@pytest.mark.parametrize("damage", ["truncated", "not base64", "wrong shape"])
def test_a_damaged_public_head_file_is_an_error_naming_it(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "public.json"
    write_public_head(path, load_public_head(), {})
    text = path.read_text()
    document = json.loads(text)
    if damage == "truncated":
        path.write_text(text[: len(text) // 2])
    elif damage == "not base64":
        document["arrays"][0]["float32"] = "@@@"
        path.write_text(json.dumps(document))
    else:
        document["arrays"][0]["shape"] = [1, 1]
        path.write_text(json.dumps(document))

    with pytest.raises(ValueError, match="not a readable public head"):
        load_public_head(path)


def test_a_round_releases_only_what_the_device_trains() -> None:
    reply = released_mask(REPLY_HEAD)
    sizes = {name: t.numel() for name, t in new_head(REPLY_HEAD, seed=0).state_dict().items()}
    term = sum(size for name, size in sizes.items() if name.startswith(REPLY_PREFIX))

    assert released_size(REPLY_HEAD) == term == 2 * REPLY_HEAD.embedding_dim * REPLY_RANK
    assert reply.size == sum(sizes.values())
    assert released_mask(HeadConfig()).all()  # without the term every parameter trains
    with pytest.raises(ValueError, match="read-only"):
        reply[0] = True
