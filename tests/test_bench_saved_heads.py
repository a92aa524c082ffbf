"""bench.saved_heads scores saved heads on the generalisation sets (real data, a slice)."""

from __future__ import annotations

import json

import pytest

from bench import saved_heads
from models.reranking_head import HeadConfig
from models.training import new_head
from models.weights import save_checkpoint


def test_a_saved_head_scores_as_the_head_it_holds_on_every_set(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    saved = tmp_path / "head.npz"
    save_checkpoint(saved, new_head(HeadConfig(), seed=0))  # the untrained default head
    out = tmp_path / "saved_heads.json"

    assert saved_heads.main(["--quick", "--head", f"mine={saved}", "--out", str(out)]) == 0

    rows = json.loads(out.read_text())["rows"]
    value = {(r["method"], r["dataset"], r["split"]): r["hits@1"] for r in rows}
    sets = {(d, s) for _, d, s in value}
    assert {d for d, _ in sets} == {"convai2", "msc", "prefeval"}
    for dataset, split in sets:
        assert value[("mine", dataset, split)] == value[("untrained_default", dataset, split)]
        for method in ("cosine", "untrained_reply", "public_head"):
            assert 0.0 <= value[(method, dataset, split)] <= 100.0


@pytest.mark.parametrize("spec", ["no-equals-sign", "cosine=head.npz", "mine=/absent.npz"])
def test_a_bad_head_argument_is_refused_before_any_work(spec, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        saved_heads.main(["--quick", "--head", spec, "--out", str(tmp_path / "x.json")])

    assert exit_.value.code == 2
    assert "--head" in capsys.readouterr().err
