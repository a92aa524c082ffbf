"""The device ranks with onnxruntime: its scores must equal the torch head's."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from models.data.locations import PERSONACHAT_VALID, data_dir, require
from models.data.personachat import load_personachat
from models.encoded import encode
from models.onnx_export import export_head_onnx
from models.onnx_scorer import OnnxHeadScorer
from models.ranking_task import Utterance, build_examples
from models.reranking_head import HeadConfig
from models.training import TrainConfig, new_head, score, train_head
from tests.conftest import REPO_ROOT


@pytest.mark.parametrize(
    "config",
    [
        HeadConfig(),
        HeadConfig(use_handcrafted=False),
        # The null features and the context-to-reply term (models.reply_match), trained.
        HeadConfig(persona_null=True, persona_mean_prior=-0.75, reply_match_rank=8),
        # The term weighing shared words too: the head's fifth input (models.lexical_overlap).
        HeadConfig(
            persona_null=True, persona_mean_prior=-0.75, reply_match_rank=8, reply_overlap=True
        ),
    ],
    ids=["handcrafted", "plain", "null_reply_match", "reply_overlap"],
)
def test_onnx_scores_match_torch_on_real_personachat_inputs(tmp_path, onnx_embedder, config):
    dialogues = load_personachat(require(data_dir(), PERSONACHAT_VALID), limit=12)
    utterances = [
        Utterance(d.user_id, i, e.context, e.response, d.persona)
        for d in dialogues
        for i, e in enumerate(d.exchanges)
    ]
    data = encode(build_examples(utterances, seed=0), onnx_embedder.embed, dimension=384)
    model = new_head(config, seed=0)
    train_head(model, data, TrainConfig(epochs=2, seed=0))  # non-trivial weights

    scorer = OnnxHeadScorer(export_head_onnx(model, tmp_path / "head.onnx"))
    onnx_scores = scorer.scores(
        data.context, data.candidates, data.persona, data.persona_mask, data.shared_words
    )
    # A different number of candidates and facts than the export example used.
    wide = scorer.scores(
        data.context[:2],
        data.candidates[:2, :7],
        data.persona[:2, :1],
        data.persona_mask[:2, :1],
        data.shared_words[:2, :7],
    )

    np.testing.assert_allclose(onnx_scores, score(model, data), atol=1e-5, rtol=0)
    assert wide.shape == (2, 7)
    assert scorer.reads_shared_words == config.reply_overlap
    if config.reply_overlap:
        assert data.shared_words.any()  # real turns do share words with their replies
        assert model.reply_match.overlap_weight is not None
        assert model.reply_match.overlap_weight.item() != 0.0
        with pytest.raises(ValueError, match="shared words"):
            scorer.scores(data.context, data.candidates, data.persona, data.persona_mask)


def test_onnx_scorer_imports_no_torch():
    code = "import sys; import models.onnx_scorer; print('torch' in sys.modules)"

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True
    )

    assert result.stdout.strip() == "False"
