"""bench.locomo_data.benchmark_conversations: the LoCoMo benchmarks' --quick subset."""

from __future__ import annotations

from bench.locomo_data import QUICK_CONVERSATIONS, QUICK_SESSIONS, benchmark_conversations
from models.data.locations import data_dir


def test_quick_keeps_the_first_sessions_and_only_the_questions_they_answer():
    root = data_dir(None)
    everything = benchmark_conversations(root, quick=False)

    quick = benchmark_conversations(root, quick=True)

    assert len(quick) == QUICK_CONVERSATIONS < len(everything)
    for small, whole in zip(quick, everything, strict=False):
        assert small.sessions == whole.sessions[:QUICK_SESSIONS]
        known = {turn.dia_id for session in small.sessions for turn in session}
        assert small.questions
        assert all(set(q.evidence) <= known for q in small.questions)
        # A question is dropped only when some of its evidence lies in a later session.
        dropped = set(whole.questions) - set(small.questions)
        assert all(not set(q.evidence) <= known for q in dropped)
