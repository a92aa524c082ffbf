"""The engine's language-model parts for a configured server, with the offline ones behind.

``MemoryEngine(profile, embedder, extractor=parts.extractor, summariser=parts.summariser,
counter=parts.counter)`` then summarises and reads self-disclosures with the model, and
falls back to the offline summariser and rules whenever the model's answer cannot be
used. Both parts share one connection and one :class:`~client.llm.one_shot.OneShot`, so
a server found absent is not asked again by either.
"""

from __future__ import annotations

from dataclasses import dataclass

from client.embedding.protocol import Embedder
from client.llm.one_shot import OneShot, task_config
from client.llm.server_config import ServerConfig
from client.memory_engine.config import EngineConfig
from client.memory_engine.disclosure import RuleExtractor
from client.memory_engine.llm_extraction import LlmExtractor
from client.memory_engine.llm_summary import LlmSummariser
from client.memory_engine.summary import ExtractiveSummariser
from client.memory_engine.tokens import TokenCounter, WordPieceCounter

# Room for the JSON of a long message's facts; a summary gets twice its budget, so an
# answer a little over budget can still be cut to whole sentences rather than cut off.
MIN_REPLY_TOKENS = 512


@dataclass(frozen=True, kw_only=True)
class LlmMemoryParts:
    extractor: LlmExtractor
    summariser: LlmSummariser
    counter: TokenCounter
    model: OneShot

    def close(self) -> None:
        self.model.close()


def llm_memory_parts(
    server: ServerConfig,
    embedder: Embedder,
    *,
    config: EngineConfig | None = None,
    counter: TokenCounter | None = None,
) -> LlmMemoryParts:
    """The LLM summariser and extractor for ``server`` (httpx is imported only here)."""
    from client.llm.openai_compatible import OpenAICompatibleBackend

    config = config or EngineConfig()
    counter = counter or WordPieceCounter()
    cap = max(MIN_REPLY_TOKENS, 2 * config.summary_budget)
    model = OneShot(OpenAICompatibleBackend(task_config(server, max_reply_tokens=cap)))
    return LlmMemoryParts(
        extractor=LlmExtractor(model, RuleExtractor()),
        summariser=LlmSummariser(model, ExtractiveSummariser(embedder, counter), counter),
        counter=counter,
        model=model,
    )
