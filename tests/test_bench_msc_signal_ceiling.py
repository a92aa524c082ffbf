"""bench.msc_signal_ceiling: the persona-word counts, and the report on a few real pairs."""

from __future__ import annotations

import json

from bench import msc_signal_ceiling
from bench.msc_signal_ceiling import persona_word_counts
from models.ranking_task import RankingExample


def test_persona_words_count_what_a_candidate_shares_with_the_speakers_facts():
    example = RankingExample(
        user_id="pair-1",
        position=0,
        context="How was your weekend?",
        persona=("I have a beagle named Max.", "I live in Denver."),
        candidates=("Max chewed my sofa in Denver!", "It was fine, thanks.", "My beagle Max"),
    )

    counts = persona_word_counts([example], width=4)

    # "max", "denver"; nothing; "beagle", "max"; padding stays zero.
    assert counts.tolist() == [[2.0, 0.0, 2.0, 0.0]]


def test_the_ceiling_report_has_every_row_and_the_oracle_bounds_the_rest(
    tmp_path, encoder_cache, monkeypatch
):
    monkeypatch.setenv("FEDPERSONA_CACHE_DIR", str(encoder_cache))
    out = tmp_path / "ceiling.json"

    code = msc_signal_ceiling.main(["--quick", "--out", str(out)])

    assert code == 0
    report = json.loads(out.read_text())
    hits = {row["method"]: row["hits@1"] for row in report["rows"]}
    assert set(hits) == {
        "cosine",
        "public_head",
        "public_head_shared_words",
        "chosen_on_devices",
        "oracle_chosen_on_held_out",
    }
    # The oracle is the best of a grid that holds every other head row's weights.
    assert all(hits["oracle_chosen_on_held_out"] >= v for k, v in hits.items() if k != "cosine")
    (weights,) = report["config"]["chosen_weights_per_seed"]
    assert list(weights["chosen_on_devices"]) in [
        [a, b]
        for a in msc_signal_ceiling.SHARED_WEIGHTS
        for b in msc_signal_ceiling.PERSONA_WEIGHTS
    ]
