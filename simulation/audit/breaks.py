"""The deliberately broken mechanisms an audit can be asked to catch (names only, so that
the command line can offer them without importing the round code and torch)."""

from __future__ import annotations

from typing import Literal, get_args

Break = Literal["no-noise", "wrong-scale", "no-clipping"]
BREAKS: tuple[Break, ...] = get_args(Break)
