"""The contract every sentence encoder keeps, so retrieval can swap backends freely."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors whose dot product is their cosine similarity.

    Contract, shared by every backend (and checked by the same tests):

    - ``embed(texts)`` returns a C-contiguous ``float32`` array of shape
      ``(len(texts), dimension)``, row ``i`` for ``texts[i]``; an empty input gives
      shape ``(0, dimension)``.
    - Every row has L2 norm 1 (to float32 rounding), so ``a @ b`` is the cosine
      similarity in ``[-1, 1]``: higher values mean more similar texts.
    - ``name`` names the vector space (the model), not the backend: vectors from
      embedders with the same ``name`` and ``dimension`` may be stored and compared
      together. Store it beside persisted vectors so a model change is detectable.
    """

    @property
    def dimension(self) -> int:
        """Length of each vector."""
        ...

    @property
    def name(self) -> str:
        """Identifier of the model whose vector space the rows live in."""
        ...

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` as rows of unit length (see the class docstring)."""
        ...


def as_text_list(texts: Sequence[str]) -> list[str]:
    """Copy ``texts`` to a list, refusing a bare string.

    A ``str`` is itself a ``Sequence[str]``: without this check ``embed("hello")``
    would silently embed five one-letter texts.
    """
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not a single string; wrap it in [...]")
    items = list(texts)
    for index, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {type(text).__name__}, not str")
    return items


def empty_vectors(dimension: int) -> Vectors:
    """The ``(0, dimension)`` result for an empty input."""
    return np.zeros((0, dimension), dtype=np.float32)
