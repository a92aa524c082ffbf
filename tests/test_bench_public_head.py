"""bench.public_head rebuilds the public start head deterministically (real data, a few users)."""

from __future__ import annotations

import json

import numpy as np

from bench import public_head
from models.public_head import load_public_head
from models.weights import get_weights


def test_the_public_head_rebuilds_to_the_same_weights_and_reports_its_rows(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    first, second = tmp_path / "first.json", tmp_path / "second.json"

    assert public_head.main(["--quick", "--out", str(first)]) == 0
    assert public_head.main(["--quick", "--out", str(second)]) == 0

    heads = [load_public_head(path.with_name(f"{path.stem}_head.json")) for path in (first, second)]
    for a, b in zip(*(get_weights(h) for h in heads), strict=True):
        assert np.array_equal(a, b)
    report = json.loads(first.read_text())
    rows = {(r["method"], r["split"]) for r in report["rows"]}
    assert rows == {
        (method, split)
        for method in ("cosine", "untrained", "public_head")
        for split in ("unseen_users", "later_turns")
    }
    assert report["config"]["checkpoint"].endswith("first_head.json")
    assert report["rows"] == json.loads(second.read_text())["rows"]
