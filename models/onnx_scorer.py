"""Score candidates with an exported head on onnxruntime (imports no torch)."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")  # must precede the import

import numpy as np
import numpy.typing as npt
import onnxruntime as ort  # type: ignore[import-untyped]

from models.lexical_overlap import SHARED_WORDS_INPUT

Array = npt.NDArray[np.float32]


class OnnxHeadScorer:
    """``scores(context, candidates, persona, persona_mask, shared_words)`` with the shapes of
    RerankingHead; ``shared_words`` is read only by a head exported with that input."""

    def __init__(self, model: Path | bytes, *, threads: int = 1) -> None:
        """``model``: an exported head's file, or its bytes (kept in memory only)."""
        options = ort.SessionOptions()
        # One thread: a phone-class device, and no thread-pool spin-up per call.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            model if isinstance(model, bytes) else str(model),
            options,
            providers=["CPUExecutionProvider"],
        )
        self.reads_shared_words = SHARED_WORDS_INPUT in {i.name for i in self._session.get_inputs()}

    def scores(
        self,
        context: Array,
        candidates: Array,
        persona: Array,
        persona_mask: Array,
        shared_words: Array | None = None,
    ) -> Array:
        feeds = {
            "context": np.ascontiguousarray(context, np.float32),
            "candidates": np.ascontiguousarray(candidates, np.float32),
            "persona": np.ascontiguousarray(persona, np.float32),
            "persona_mask": np.ascontiguousarray(persona_mask, np.float32),
        }
        if self.reads_shared_words:
            if shared_words is None:
                raise ValueError("this head weighs shared words: pass the counts (shared_words)")
            feeds[SHARED_WORDS_INPUT] = np.ascontiguousarray(shared_words, np.float32)
        result: Array = self._session.run(["scores"], feeds)[0]
        return result
