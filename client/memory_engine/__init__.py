"""The memory engine: from a conversation to memory and persona, and from a message to a prompt.

Public API (see ``engine``): :class:`MemoryEngine`, :class:`EngineConfig`,
:class:`AppProfile`, :class:`Prompt`, :class:`Retrieval`, :class:`Stages`.
It imports nothing from ``server`` or ``bench``: a device uses ``client`` only.
"""

from client.memory_engine.config import EngineConfig
from client.memory_engine.disclosure import Disclosure, DisclosureExtractor, RuleExtractor
from client.memory_engine.engine import MemoryEngine, Retrieval, SessionReport
from client.memory_engine.prompt import AppProfile, Prompt, Section
from client.memory_engine.rerank import FeatureHead
from client.memory_engine.retrieval import Candidate, Stages
from client.memory_engine.summary import ExtractiveSummariser, Summariser
from client.memory_engine.tokens import TokenCounter, WordCounter, WordPieceCounter
from client.memory_engine.validator import TraceEntry

__all__ = [
    "AppProfile",
    "Candidate",
    "Disclosure",
    "DisclosureExtractor",
    "EngineConfig",
    "ExtractiveSummariser",
    "FeatureHead",
    "MemoryEngine",
    "Prompt",
    "Retrieval",
    "RuleExtractor",
    "Section",
    "SessionReport",
    "Stages",
    "Summariser",
    "TokenCounter",
    "TraceEntry",
    "WordCounter",
    "WordPieceCounter",
]
