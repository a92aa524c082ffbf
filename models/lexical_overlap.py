"""Words a candidate reply shares with the turn it answers (issue 13).

A frozen sentence embedding keeps what a text is about and loses which rare words it
uses: "my beagle Max chewed the sofa" and "my dog ruined the couch" are neighbours, but
the reply that says "Max" again is the one that answers. Counting the content words a
candidate shares with the turn is the oldest signal in response selection (the TF-IDF
baseline of Lowe et al. 2015, "The Ubuntu Dialogue Corpus"), and it is
independent of the embedding, so a head can add it to its score with one weight
(models.reply_match). On Multi-Session Chat, where the persona adds about 2 points over
plain cosine, a fixed weight on this count adds 0.8-2.0 more (docs/benchmarks.md,
"Shared words").

A plain count, not TF-IDF: an inverse document frequency needs a corpus, and a device has
only its own conversations; the stop-word list below does most of what the IDF did on
the benchmark sets (scratch comparison in docs/benchmarks.md).
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping, Sequence

import numpy as np
import numpy.typing as npt

# Function words and the chat fillers that every turn shares (English, lower case).
STOP_WORDS = frozenset(
    """
    about again all also and any are because been before being both but can could did
    does doing don dont down during each few for from further get gets got had has have
    having her here hers herself him himself his how i'd i'll i'm i've into its it's
    itself just know lot let like likes made make many more most much myself nor not now
    off once only other our ours out over own really same she should some such than that
    that's the their theirs them themselves then there these they they're think this those
    through too under until very was wasn well were what when where which while who whom
    why will with would yeah yes you you're your yours yourself going want wants thing
    things good great nice sure okay cool sounds sound time times doesn isn didn
    """.split()  # noqa: SIM905  (a word list reads better as text)
)
MIN_LENGTH = 3
# The counts' name as an input of the exported head (models.onnx_export, models.onnx_scorer).
SHARED_WORDS_INPUT = "shared_words"
_WORD = re.compile(r"[a-z][a-z']*")


def content_words(text: str) -> frozenset[str]:
    """The distinct lower-cased words of ``text`` that carry content: at least
    ``MIN_LENGTH`` letters and not in ``STOP_WORDS``."""
    return frozenset(
        word
        for word in _WORD.findall(text.lower())
        if len(word) >= MIN_LENGTH and word not in STOP_WORDS
    )


def shared_word_counts(
    context: str,
    candidates: Sequence[str],
    known: MutableMapping[str, frozenset[str]] | None = None,
) -> npt.NDArray[np.float32]:
    """For each candidate, how many distinct content words it shares with ``context``.

    ``known``: texts' content words from earlier calls, added to (a caller's own memo for
    many rows; there is no module-level cache, which would keep a forgotten memory's text)."""
    memo = {} if known is None else known

    def words(text: str) -> frozenset[str]:
        if text not in memo:
            memo[text] = content_words(text)
        return memo[text]

    asked = words(context)
    return np.array([len(asked & words(c)) for c in candidates], np.float32)
